// Formal harness of imsdev_tlp_arb (rtl/link/imsdev_tlp_arb.sv): N TLP streams merged onto one, checked
// against the stream rules of docs/tlp_interface.md and the arbiter's header (round-robin, a TLP's beats
// kept together, unbuffered: an input's beat is taken exactly when it is taken on the output).
//
// Assumptions (the stream contract of docs/tlp_interface.md, "AXI-Stream style handshake", for every input):
//   m_hold      an input that shows a beat (valid && !ready) keeps valid and every field the next cycle
//   m_framing   sop is set exactly on the first beat of each TLP (after reset or after an eop beat)
//   m_hdr_held  hdr and the prefix are held constant on every beat of a TLP
//   reset in the first cycle; out_ready and everything else free; rst may rise again at any time.
// Properties:
//   a_out_hold       output: valid && !ready -> the next cycle shows the same beat (valid and every field)
//   a_ready_onehot   at most one input sees ready
//   a_ready_is_out   the input that sees ready sees the output's ready, and the output shows its beat
//   a_taken_together an input beat is taken exactly when the output beat is taken (unbuffered)
//   a_no_interleave  once a TLP's first beat is taken, only its input is connected until its eop beat
//   a_out_framing    output sop exactly on first beats; hdr/prefix constant within a TLP
//   a_work           no TLP open on the output and some input valid -> output valid (no idle cycle)
//   a_fair           round robin: while an input waits with a TLP, other inputs complete at most N-1 TLPs
`default_nettype none

module tlp_arb_props #(
    parameter int N      = 2,
    parameter int DATA_W = 8
) (
    input wire logic                clk,
    input wire logic                rst,
    input wire logic [N-1:0]        in_valid,
    input wire logic [N-1:0]        in_sop,
    input wire logic [N-1:0]        in_eop,
    input wire logic [N*128-1:0]    in_hdr,
    input wire logic [N-1:0]        in_prfx_valid,
    input wire logic [N*32-1:0]     in_prfx,
    input wire logic [N*DATA_W-1:0] in_data,
    input wire logic                out_ready
);
    localparam int IW = (N > 1) ? $clog2(N) : 1;
    localparam int BW = 1 + 1 + 128 + 1 + 32 + DATA_W;   // one beat: sop, eop, hdr, prfx_valid, prfx, data

    logic [N-1:0]        in_ready;
    logic                out_valid, out_sop, out_eop, out_prfx_valid;
    logic [127:0]        out_hdr;
    logic [31:0]         out_prfx;
    logic [DATA_W-1:0]   out_data;

    imsdev_tlp_arb #(.N(N), .DATA_W(DATA_W)) dut (
        .clk, .rst, .in_valid, .in_ready, .in_sop, .in_eop, .in_hdr, .in_prfx_valid, .in_prfx, .in_data,
        .out_valid, .out_ready, .out_sop, .out_eop, .out_hdr, .out_prfx_valid, .out_prfx, .out_data
    );

    function automatic logic [BW-1:0] in_beat(input int i);
        return {in_sop[i], in_eop[i], in_hdr[i*128 +: 128], in_prfx_valid[i], in_prfx[i*32 +: 32],
                in_data[i*DATA_W +: DATA_W]};
    endfunction
    wire [BW-1:0] out_beat = {out_sop, out_eop, out_hdr, out_prfx_valid, out_prfx, out_data};

    logic past_valid;
    initial past_valid = 1'b0;
    always_ff @(posedge clk) past_valid <= 1'b1;
    always @(posedge clk) if (!past_valid) assume (rst);

    wire out_xfer = out_valid && out_ready;

    // ------------------------------------------------------------ per-input contract and bookkeeping
    logic [N-1:0]   in_open_q;              // input i is inside a TLP (a non-eop beat was taken)
    logic [N-1:0]   in_shown_q;             // input i showed a beat last cycle that was not taken
    logic [BW-1:0]  in_last_q  [N];         // input i's beat last cycle
    logic [160:0]   in_hp_q    [N];         // hdr/prefix of input i's open TLP
    logic [IW:0]    wait_q     [N];         // TLPs completed by other inputs while i waits

    for (genvar i = 0; i < N; i++) begin : g_in
        wire xfer = in_valid[i] && in_ready[i];
        always_ff @(posedge clk) begin
            in_last_q[i]  <= in_beat(i);
            in_shown_q[i] <= !rst && in_valid[i] && !in_ready[i];
            if (xfer) in_hp_q[i] <= {in_hdr[i*128 +: 128], in_prfx_valid[i], in_prfx[i*32 +: 32]};
            if (rst) begin
                in_open_q[i] <= 1'b0;
                wait_q[i]    <= '0;
            end else begin
                if (xfer) in_open_q[i] <= !in_eop[i];
                if (!in_valid[i] || xfer) wait_q[i] <= '0;
                else if (out_xfer && out_eop) wait_q[i] <= wait_q[i] + 1'b1;
            end
        end
        always @(posedge clk) begin
            if (past_valid && !rst) begin
                if (in_shown_q[i]) m_hold: assume (in_valid[i] && in_beat(i) == in_last_q[i]);
                if (in_valid[i]) m_framing: assume (in_sop[i] == !in_open_q[i]);
                if (in_valid[i] && in_open_q[i])
                    m_hdr_held: assume ({in_hdr[i*128 +: 128], in_prfx_valid[i], in_prfx[i*32 +: 32]} == in_hp_q[i]);
                // Properties per input.
                if (in_ready[i]) a_ready_is_out: assert (out_ready && (!in_valid[i] || (out_valid && out_beat == in_beat(i))));
                if (xfer) a_taken_together: assert (out_xfer);
                a_fair: assert (32'(wait_q[i]) <= N - 1);
            end
        end
    end

    // ------------------------------------------------------------ output bookkeeping
    logic           out_open_q;             // a TLP is open on the output (non-eop beat taken)
    logic [IW-1:0]  out_src_q;              // the input whose TLP is open
    logic           out_shown_q;
    logic [BW-1:0]  out_last_q;
    logic [160:0]   out_hp_q;
    logic [IW-1:0]  xfer_src;

    always_comb begin
        xfer_src = '0;
        for (int i = 0; i < N; i++) if (in_valid[i] && in_ready[i]) xfer_src = IW'(i);
    end

    always_ff @(posedge clk) begin
        out_last_q  <= out_beat;
        out_shown_q <= !rst && out_valid && !out_ready;
        if (out_xfer) out_hp_q <= {out_hdr, out_prfx_valid, out_prfx};
        if (rst) begin
            out_open_q <= 1'b0;
            out_src_q  <= '0;
        end else if (out_xfer) begin
            out_open_q <= !out_eop;
            out_src_q  <= xfer_src;
        end
    end

    always @(posedge clk) begin
        if (past_valid && !rst) begin
            if (out_shown_q) a_out_hold: assert (out_valid && out_beat == out_last_q);
            a_ready_onehot: assert ($onehot0(in_ready & in_valid));
            if (out_xfer) a_taken_together_out: assert ((in_valid & in_ready) != '0);
            if (out_open_q) a_no_interleave: assert ((in_ready & ~(N'(1) << out_src_q)) == '0 && out_valid == in_valid[out_src_q]);
            if (out_valid) a_out_framing: assert (out_sop == !out_open_q);
            if (out_valid && out_open_q) a_out_hdr_held: assert ({out_hdr, out_prfx_valid, out_prfx} == out_hp_q);
            if (!out_open_q && in_valid != '0) a_work: assert (out_valid);
        end
    end

    // ------------------------------------------------------------ helper invariants (internal state)
    // The bookkeeping of the inputs and the output agree, and the arbiter's lock is what the handshakes left.
    always @(posedge clk) begin
        if (past_valid && !rst) begin
            h_open: assert (in_open_q == (out_open_q ? (N'(1) << out_src_q) : '0));
            if (out_open_q) h_lock_open: assert (dut.locked_q && dut.owner_q == out_src_q);
            if (out_open_q) h_hp: assert (out_hp_q == in_hp_q[out_src_q]);
            if (dut.locked_q && !out_open_q) h_lock_shown: assert (in_shown_q[dut.owner_q] && out_shown_q);
            h_owner: assert (32'(dut.owner_q) < N);
        end
    end
    // Round robin: every TLP completed while input i waits moves the grant at least one place closer to i
    // (until i itself is granted); a TLP granted but not yet completed counts as completed.
    for (genvar i = 0; i < N; i++) begin : g_h_fair
        always @(posedge clk) begin
            if (past_valid && !rst && wait_q[i] != '0 && !(dut.locked_q && 32'(dut.owner_q) == i))
                h_rr: assert (32'(wait_q[i]) + ((i - 32'(dut.owner_q) + N) % N) + (dut.locked_q ? 1 : 0) <= N
                              && 32'(dut.owner_q) != i);
        end
    end
endmodule

`default_nettype wire
