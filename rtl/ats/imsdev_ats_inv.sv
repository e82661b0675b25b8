// ATS invalidation (docs/ats_pri.md 2.5): takes Invalidate Requests from the rx_msg stream, clears the ATC,
// marks overlapping outstanding Translation Requests stale, and sends the Invalidate Completion once every
// access that may still use the old translation is done.
//
// Intake (one request per cycle, rx_msg_ready = room in the pending queue, never a function of tx_req): an
// Invalidate Request is a MsgD routed by ID (Fmt/Type 0x72), message code 0x01, ITag in header byte 6 bits 4:0,
// the TA's requester ID in bytes 4-5, a 2-DW payload (address 63:12, S at bit 11: imsdev_ats_pkg's entry order)
// and an optional PASID prefix. The range (S decode, rounded up to STU) is invalidated in the ATC in the cycle
// after it is taken (the invalidate outputs are registered: Fmax, the S decode and the STU compare ran into
// the ATC's per-entry overlap and valid bits); other messages are taken and dropped (counted in dropped_o).
// Pending queue (DEPTH = 32, Invalidate Queue Depth 0 = 32): {ITag, TA ID, read snapshot, write snapshot}.
//   read snapshot  = MRd allocated so far: done when that many MRd have retired (their completions received,
//                    or ended by an error or a timeout);
//   write snapshot = translated MWr planned so far: done when that many have left on tx_req (their last beat
//                    accepted; the completion follows them on the same stream, so it is behind them).
// Completions: ready entries at the head with the same TA ID are coalesced into one Invalidate Completion
// (ITag vector, CC = 1, Device ID = the TA's ID, Requester ID = cfg_bdf) handed to the message writer, which
// sends it whatever Bus Master Enable is (PCIe 10.3.3).
`default_nettype none

module imsdev_ats_inv #(
    parameter int DATA_W = 256,
    parameter int DEPTH  = 32
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,
    input  wire logic [4:0]        cfg_ats_stu,

    input  wire logic              rx_msg_valid,
    output      logic              rx_msg_ready,
    input  wire logic              rx_msg_sop,
    input  wire logic              rx_msg_eop,
    input  wire logic [127:0]      rx_msg_hdr,
    input  wire logic              rx_msg_prfx_valid,
    input  wire logic [31:0]       rx_msg_prfx,
    input  wire logic [DATA_W-1:0] rx_msg_data,

    // to the ATC and the translation requester
    output      logic              inv_valid,
    output      logic              inv_has_pasid,
    output      logic [19:0]       inv_pasid,
    output      logic [51:0]       inv_page,
    output      logic [5:0]        inv_size,

    // snapshots (imsdev_dma)
    input  wire logic [15:0]       rd_alloc_count,
    input  wire logic [15:0]       rd_retire_count,
    input  wire logic [15:0]       wr_planned_count,
    input  wire logic [15:0]       wr_sent_count,

    // Invalidate Completion header to the message writer
    output      logic              cpl_valid,
    input  wire logic              cpl_ready,
    output      logic [127:0]      cpl_hdr,

    output      logic              dropped_o      // pulse: a message other than an Invalidate Request
);
    import imsdev_tlp_pkg::*;
    import imsdev_ats_pkg::*;

    localparam int QW = $clog2(DEPTH);
    initial begin
        if (DEPTH < 32 || (DEPTH & (DEPTH - 1)) != 0)
            $fatal(1, "imsdev_ats_inv: DEPTH (%0d) must be a power of two >= 32 (Invalidate Queue Depth 0)", DEPTH);
    end

    // ---------------------------------------------------------------- intake
    logic [QW:0] q_head_q, q_tail_q;
    wire         q_full  = (q_head_q ^ q_tail_q) == {1'b1, {QW{1'b0}}};
    wire         q_empty = q_head_q == q_tail_q;
    // The snapshots are taken two cycles after the request (go_qq, into the entry queued then, snap_qq, which
    // is not looked at before): the ATC is cleared at the end of the cycle after the request (inv_valid), so a
    // TLP planned with the old translation in that cycle is counted too.
    logic go_q, go_qq;
    logic [QW-1:0] snap_q, snap_qq;
    // rx_msg_ready from a flip-flop that holds the queue's fullness after the last edge (full_q == q_full,
    // checked below): the pointer compare is off the intake, which fans out into the ATC's invalidation, the
    // translation requester's stale marking and the PRI (the deepest cones of the small configuration,
    // sim/synth_depth.py).
    logic full_q;
    assign rx_msg_ready = !full_q;

    wire        take   = rx_msg_valid && rx_msg_ready && rx_msg_sop;
    wire        is_inv = hdr_fmt_type(rx_msg_hdr) == FT_MSGD_ID && rx_msg_hdr[71:64] == MSG_CODE_INV_REQ;
    wire        go     = take && is_inv;
    wire [63:0] ent    = entry_from_payload(rx_msg_data[63:0]);
    wire [5:0]  sz     = s_decode(ent[11], ent[63:12]);

    // (registered outputs: the ATC is cleared at the end of the cycle after the take)
    always_ff @(posedge clk) begin
        inv_valid     <= !rst && go;
        inv_has_pasid <= rx_msg_prfx_valid;
        inv_pasid     <= rx_msg_prfx[19:0];
        inv_page      <= ent[63:12];
        // a range below STU is rounded up to it (PCIe 10.3.1)
        inv_size      <= (32'(sz) < 32'(cfg_ats_stu)) ? 6'(cfg_ats_stu) : sz;
    end
    assign dropped_o     = take && !is_inv;

    logic [4:0]  itag_q [DEPTH];
    logic [15:0] ta_q   [DEPTH];
    logic [15:0] rsn_q  [DEPTH];
    logic [15:0] wsn_q  [DEPTH];

    // ---------------------------------------------------------------- head readiness and coalescing
    wire [QW-1:0] h = q_tail_q[QW-1:0];
    // counters are free running: "reached" = the distance from the snapshot is below half the range
    wire [15:0] rd_dist = rd_retire_count - rsn_q[h];
    wire [15:0] wr_dist = wr_sent_count - wsn_q[h];
    // (an entry whose snapshots are not written yet is not ready: queued one or two cycles ago)
    wire        h_ready = !q_empty && !rd_dist[15] && !wr_dist[15] && !(go_q && h == snap_q) && !(go_qq && h == snap_qq);
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_dist = &{1'b0, rd_dist[14:0], wr_dist[14:0]};
    /* verilator lint_on UNUSEDSIGNAL */

    logic        acc_q, send_q;
    logic [31:0] vec_q;
    logic [15:0] acc_ta_q;
    wire         pop = h_ready && !send_q && (!acc_q || ta_q[h] == acc_ta_q);

    always_comb begin
        cpl_hdr = '0;
        cpl_hdr[127:120] = FT_MSG_ID;             // Msg, 4DW, routed by ID; TC 0, no data
        cpl_hdr[95:80]   = cfg_bdf;               // Requester ID: this function
        cpl_hdr[71:64]   = MSG_CODE_INV_CPL;
        cpl_hdr[63:48]   = acc_ta_q;              // Device ID: the TA
        cpl_hdr[34:32]   = 3'd1;                  // CC: one completion (single TC)
        cpl_hdr[31:0]    = vec_q;                 // ITag vector
    end
    assign cpl_valid = send_q;

    wire [QW:0] head_n    = q_head_q + (QW + 1)'(go);
    wire        full_keep = (head_n ^ q_tail_q) == {1'b1, {QW{1'b0}}};
    wire        full_pop  = (head_n ^ (q_tail_q + 1'b1)) == {1'b1, {QW{1'b0}}};

    always_ff @(posedge clk) begin
        if (go) begin
            itag_q[q_head_q[QW-1:0]] <= rx_msg_hdr[76:72];
            ta_q[q_head_q[QW-1:0]]   <= hdr_req_id(rx_msg_hdr);
        end
        if (go_qq) begin
            rsn_q[snap_qq] <= rd_alloc_count;
            wsn_q[snap_qq] <= wr_planned_count;
        end
        snap_q  <= q_head_q[QW-1:0];
        snap_qq <= snap_q;
        if (rst) begin
            q_head_q <= '0;
            q_tail_q <= '0;
            full_q   <= 1'b0;
            go_q     <= 1'b0;
            go_qq    <= 1'b0;
            acc_q    <= 1'b0;
            send_q   <= 1'b0;
            vec_q    <= '0;
            acc_ta_q <= '0;
        end else begin
            go_q  <= go;
            go_qq <= go_q;
            // both outcomes of pop side by side, pop only selects (Fmax: pop, the end of the head's readiness
            // compares, ran into the tail's increment and the fullness compare)
            full_q <= pop ? full_pop : full_keep;
            if (go) q_head_q <= q_head_q + 1'b1;
            if (pop) begin
                q_tail_q <= q_tail_q + 1'b1;
                acc_q    <= 1'b1;
                acc_ta_q <= ta_q[h];
                vec_q    <= vec_q | (32'd1 << itag_q[h]);
            end else if (acc_q && !send_q) begin
                send_q <= 1'b1;                   // nothing more to add: send what was gathered
            end
            if (send_q && cpl_ready) begin
                send_q <= 1'b0;
                acc_q  <= 1'b0;
                vec_q  <= '0;
            end
        end
    end

`ifndef SYNTHESIS
    // full_q is the queue's fullness of this cycle (the compare it replaces on rx_msg_ready), from the first
    // reset on
    logic reset_seen_q;
    initial reset_seen_q = 1'b0;
    always_ff @(posedge clk) begin
        if (rst) reset_seen_q <= 1'b1;
        if (reset_seen_q && !rst)
            assert (full_q == q_full) else $error("imsdev_ats_inv: full_q %0b, queue full %0b", full_q, q_full);
    end
`endif

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, rx_msg_eop, rx_msg_prfx[31:20], ent[10:0], rx_msg_data};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
