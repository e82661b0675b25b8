// Formal harness of imsdev_msix (rtl/msix/imsdev_msix.sv): the MSI-X table, PBA and message engine against
// a reference model of PCIe Base r6.3 §6.1.4 (MSI-X) written from the same MMIO requests.
//
// Reference model (harness state, not the RTL's):
//   sh_*[v]   the table entry as software wrote it (Message Address, Upper Address, Data, Vector Control
//             Mask bit), byte enables applied; after reset Mask=1 and Address/Data 0 (the RTL header's reset
//             values; the spec only fixes Mask=1).
//   pnd[v]    the Pending bit (§6.1.4, per-vector masking): set when an interrupt event of vector v is
//             decided while v cannot be delivered, consumed by the one message that replays it.
//   arm[v]    the armed (address, data) pair of v: the pair messages of v carry. It takes the entry's whole
//             pair at a commit point (the RTL header's "no torn messages"): a Vector Control write with
//             Mask=0, or an Address/Data write while v cannot send.
//   exq       the messages decided and not yet taken on msg_*, in order, each the armed pair of its vector
//             when the message was decided.
// A table write takes effect when it is accepted (it has landed when it is answered). An Address/Data write
// is judged two cycles later (the engine reads the entry back: "can v send now?") and commits or is reported
// then; no other table write lands in between. An interrupt request
// accepted in cycle c is decided in cycle c+1 (the header's two-stage engine: S0 accepts and reads, S1
// decides); msg_commit is the "message decided" pulse of the port list. The RTL's index of the event in S1
// (s1_vec_q) is read only to name the vector of a replayed (pending) message; every check is against the
// model.
//
// Assumptions: only a reset in the first cycle (m_reset); rst may rise again at any later cycle (FLR). Every
// other input is free in every cycle: cfg_msix_en, cfg_msix_fn_mask, cfg_bus_master_en, msg_ready, irq_valid
// and irq_vector (any 16-bit vector, may be withdrawn), and the MMIO port. The port list promises "one
// request outstanding" and a request held until accepted; the proofs do not need either (checked: they hold
// with requests back to back and withdrawn), so neither is assumed.
//
// Properties (`a_*`; PCIe Base r6.3 §6.1.4, §7.7.2; §7.5.1.1 Bus Master Enable):
//   a_commit_enabled   no message is decided while MSI-X Enable=0, Function Mask=1 or Bus Master Enable=0
//   a_commit_unmasked  no message is decided for a vector whose Mask bit is 1
//   a_fire_sends       an event decided while its vector is deliverable sends a message (now)
//   a_fire_pends       an event decided while its vector is not deliverable sends nothing (it sets Pending)
//   a_replay_pending   any other message is the replay of a Pending bit of a deliverable vector, and
//                      consumes it: a pending event is sent at most once
//   a_msg_pair         every message taken on msg_* is the armed pair of its vector when the message was
//                      decided (a whole pair committed by software, never a mix of an old and a new half),
//                      messages in decision order, Address[1:0] = 0
//   a_unmasked_write   unmasked_write pulses exactly for Address/Data writes judged while the vector can send,
//                      naming that vector and DW
//   a_msg_count        msg_valid exactly when a decided message has not been taken (none lost, none invented)
//   a_quiet_reset      after reset nothing is decided or sent until software has cleared some Mask bit
//   a_read_table       table reads return the entry (Mask after reset 1; reserved bits 0)
//   a_read_pba         PBA reads return the Pending bits (0 after reset)
//   a_rsp_once         every accepted MMIO request is answered exactly once, in the next cycle
//   a_bad_vector       irq_bad_vector pulses exactly for accepted requests naming a vector >= VECTORS
//                      (which the model ignores: they change nothing)
//   a_replay_live      (LIVE=1 only) a deliverable vector with Pending set sends its message within
//                      LIVE_BOUND consecutive quiet cycles (no irq_valid, no req_valid, msg_ready high)
// Helper invariants (`h_*`) tie the RTL's RAMs, FIFO and pipeline to the model for k-induction.
`default_nettype none

module msix_props #(
    parameter int VECTORS    = 4,
    parameter int FIFO_DEPTH = 4,
    parameter int OFF_W      = 5,
    parameter int LIVE       = 0,
    parameter int LIVE_BOUND = 16
) (
    input wire logic             clk,
    input wire logic             rst,
    input wire logic             cfg_msix_en,
    input wire logic             cfg_msix_fn_mask,
    input wire logic             cfg_bus_master_en,
    input wire logic             req_valid,
    input wire logic             req_write,
    input wire logic             req_pba,
    input wire logic [OFF_W-1:0] req_off,
    input wire logic [31:0]      req_wdata,
    input wire logic [3:0]       req_be,
    input wire logic             irq_valid,
    input wire logic [15:0]      irq_vector,
    input wire logic             msg_ready
);
    localparam int VW = (VECTORS > 1) ? $clog2(VECTORS) : 1;
    localparam int CW = $clog2(FIFO_DEPTH + 1);
    initial if (VECTORS > 64) $fatal(1, "msix_props: the model covers one PBA QWORD (VECTORS <= 64)");

    logic        req_ready, rsp_valid, irq_ready, irq_bad_vector, msg_valid, msg_commit, init_busy, unmasked_write;
    logic [((VECTORS > 1) ? $clog2(VECTORS) : 1)-1:0] unmasked_write_vec;
    logic [1:0]  unmasked_write_dw;
    logic [31:0] rsp_rdata, msg_data;
    logic [63:0] msg_addr;

    imsdev_msix #(.VECTORS(VECTORS), .FIFO_DEPTH(FIFO_DEPTH), .OFF_W(OFF_W)) dut (
        .clk, .rst, .cfg_msix_en, .cfg_msix_fn_mask, .cfg_bus_master_en,
        .req_valid, .req_ready, .req_write, .req_pba, .req_off, .req_wdata, .req_be, .rsp_valid, .rsp_rdata,
        .irq_valid, .irq_ready, .irq_vector, .irq_bad_vector,
        .msg_valid, .msg_ready, .msg_addr, .msg_data, .msg_commit,
        .unmasked_write, .unmasked_write_vec, .unmasked_write_dw, .init_busy
    );

    logic past_valid;
    initial past_valid = 1'b0;
    always_ff @(posedge clk) past_valid <= 1'b1;
    wire chk = past_valid && !rst;

    // ------------------------------------------------------------ MMIO requests accepted (answered in the next cycle)
    wire          mm_acc = req_valid && req_ready;
    logic         acc_d1_q;

    always_ff @(posedge clk) acc_d1_q <= !rst && mm_acc;

    always @(posedge clk) if (!past_valid) m_reset: assume (rst);

    // ------------------------------------------------------------ reference model
    logic [VECTORS-1:0][31:0] sh_lo, sh_hi, sh_data;
    logic [VECTORS-1:0]       sh_mask;
    logic [VECTORS-1:0][95:0] arm;
    logic                     nt_d1_q, nt_d2_q;      // an Address/Data write accepted 1 / 2 cycles ago
    logic [VW-1:0]            nt_d1_vec_q, nt_d2_vec_q;
    logic [1:0]               nt_d1_dw_q, nt_d2_dw_q;
    logic [VECTORS-1:0]       pnd;
    logic [FIFO_DEPTH-1:0][95:0] exq;      // exq[0] is the oldest {data, addr}
    logic [CW-1:0]            exq_n;
    logic                     rq_d1_q;      // an in-range interrupt request was accepted last cycle
    logic [VW-1:0]            rq_d1_vec_q;
    logic                     unmasked_q;   // some Mask bit was cleared by software since reset

    function automatic logic [31:0] merge(input logic [31:0] old, input logic [31:0] wd, input logic [3:0] be);
        for (int b = 0; b < 4; b++) if (be[b]) old[b*8 +: 8] = wd[b*8 +: 8];
        return old;
    endfunction

    function automatic logic [95:0] pair(input int v);
        return {sh_data[v], sh_hi[v], sh_lo[v][31:2], 2'b00};
    endfunction

    wire fn_ok = cfg_msix_en && !cfg_msix_fn_mask && cfg_bus_master_en;
    function automatic logic dlv(input int v);
        return fn_ok && !sh_mask[v];
    endfunction

    // MMIO request decode (DW offsets: table entry*4 + dw, PBA QWORD*2 + half).
    wire [OFF_W-3:0] req_entry = req_off[OFF_W-1:2];
    wire [1:0]       req_dw    = req_off[1:0];
    wire             tbl_wr    = mm_acc && req_write && !req_pba && 32'(req_entry) < VECTORS;

    // The event decided this cycle and the vector a decided message belongs to.
    wire          irq_acc   = irq_valid && irq_ready && 32'(irq_vector) < VECTORS;
    wire [VW-1:0] commit_v  = rq_d1_q ? rq_d1_vec_q : dut.s1_vec_q;
    wire          replay    = msg_commit && !rq_d1_q;
    wire          pop       = msg_valid && msg_ready;

    always_ff @(posedge clk) begin
        if (rst) begin
            sh_lo <= '0; sh_hi <= '0; sh_data <= '0; sh_mask <= '1; arm <= '0;
            nt_d1_q <= 1'b0; nt_d2_q <= 1'b0; nt_d1_vec_q <= '0; nt_d2_vec_q <= '0; nt_d1_dw_q <= '0; nt_d2_dw_q <= '0;
            pnd <= '0; exq_n <= '0; rq_d1_q <= 1'b0; rq_d1_vec_q <= '0; unmasked_q <= 1'b0;
        end else begin
            rq_d1_q     <= irq_acc;
            rq_d1_vec_q <= VW'(irq_vector);
            if (tbl_wr) begin
                case (req_dw)
                    2'd0: sh_lo[req_entry]   <= merge(sh_lo[req_entry], req_wdata, req_be);
                    2'd1: sh_hi[req_entry]   <= merge(sh_hi[req_entry], req_wdata, req_be);
                    2'd2: sh_data[req_entry] <= merge(sh_data[req_entry], req_wdata, req_be);
                    2'd3: if (req_be[0]) sh_mask[req_entry] <= req_wdata[0];
                endcase
                if (req_dw == 2'd3 && req_be[0] && !req_wdata[0]) begin
                    unmasked_q <= 1'b1;
                    arm[req_entry] <= pair(32'(req_entry));      // commit: Vector Control with Mask=0
                end
            end
            nt_d1_q     <= tbl_wr && req_dw != 2'd3;
            nt_d1_vec_q <= VW'(req_entry);
            nt_d1_dw_q  <= req_dw;
            nt_d2_q     <= nt_d1_q;
            nt_d2_vec_q <= nt_d1_vec_q;
            nt_d2_dw_q  <= nt_d1_dw_q;
            // commit: an Address/Data write judged while v cannot send
            if (nt_d2_q && !dlv(32'(nt_d2_vec_q))) arm[nt_d2_vec_q] <= pair(32'(nt_d2_vec_q));
            // Pending: set by an event decided while not deliverable, consumed by a replay.
            if (rq_d1_q && !dlv(rq_d1_vec_q)) pnd[rq_d1_vec_q] <= 1'b1;
            if (replay) pnd[dut.s1_vec_q] <= 1'b0;
            // Decided messages, in order.
            for (int i = 0; i < FIFO_DEPTH; i++) begin
                if (pop) exq[i] <= (i + 1 < FIFO_DEPTH) ? exq[(i + 1) % FIFO_DEPTH] : exq[i];
            end
            if (msg_commit && 32'(exq_n) - (pop ? 1 : 0) < FIFO_DEPTH)
                exq[32'(exq_n) - (pop ? 1 : 0)] <= arm[commit_v];
            exq_n <= CW'(32'(exq_n) + (msg_commit ? 1 : 0) - (pop ? 1 : 0));
        end
    end

    // ------------------------------------------------------------ MMIO read data expected from the model
    logic          rd_d1_q, rd_pba_d1_q;
    logic [OFF_W-1:0] rd_off_d1_q;
    always_ff @(posedge clk) begin
        rd_d1_q     <= !rst && mm_acc && !req_write;
        rd_pba_d1_q <= req_pba;
        rd_off_d1_q <= req_off;
    end

    logic [31:0] rd_exp;
    always_comb begin
        logic [OFF_W-3:0] e;
        logic [OFF_W-2:0] w;
        logic [63:0]      pba_q;
        e = rd_off_d1_q[OFF_W-1:2];
        w = rd_off_d1_q[OFF_W-1:1];
        pba_q = 64'(pnd);
        rd_exp = '0;
        if (!rd_pba_d1_q && 32'(e) < VECTORS) begin
            case (rd_off_d1_q[1:0])
                2'd0: rd_exp = {sh_lo[e][31:2], 2'b00};
                2'd1: rd_exp = sh_hi[e];
                2'd2: rd_exp = sh_data[e];
                2'd3: rd_exp = {31'd0, sh_mask[e]};
            endcase
        end else if (rd_pba_d1_q && w == '0) begin
            rd_exp = rd_off_d1_q[0] ? pba_q[63:32] : pba_q[31:0];
        end
    end

    // ------------------------------------------------------------ properties
    always @(posedge clk) begin
        if (chk) begin
            if (msg_commit) a_commit_enabled: assert (fn_ok);
            if (msg_commit) a_commit_unmasked: assert (!sh_mask[commit_v]);
            if (rq_d1_q && dlv(rq_d1_vec_q)) a_fire_sends: assert (msg_commit);
            if (rq_d1_q && !dlv(rq_d1_vec_q)) a_fire_pends: assert (!msg_commit);
            if (replay) a_replay_pending: assert (pnd[dut.s1_vec_q] && dlv(32'(dut.s1_vec_q)) && 32'(dut.s1_vec_q) < VECTORS);
            if (msg_valid) a_msg_pair: assert (exq_n != '0 && {msg_data, msg_addr} == exq[0]);
            a_msg_count: assert (msg_valid == (exq_n != '0) && (!msg_commit || pop || 32'(exq_n) < FIFO_DEPTH));
            if (!unmasked_q) a_quiet_reset: assert (!msg_commit && !msg_valid);
            if (rsp_valid && rd_d1_q && !rd_pba_d1_q) a_read_table: assert (rsp_rdata == rd_exp);
            if (rsp_valid && rd_d1_q && rd_pba_d1_q) a_read_pba: assert (rsp_rdata == rd_exp);
            a_rsp_once: assert (rsp_valid == acc_d1_q);
            a_bad_vector: assert (irq_bad_vector == (irq_valid && irq_ready && 32'(irq_vector) >= VECTORS));
            a_unmasked_write: assert (unmasked_write == (nt_d2_q && dlv(32'(nt_d2_vec_q)))
                                      && (!unmasked_write || (unmasked_write_vec == nt_d2_vec_q && unmasked_write_dw == nt_d2_dw_q)));
        end
    end

    // ------------------------------------------------------------ bounded replay (LIVE=1)
    // wait_q[v] counts consecutive quiet cycles (no irq_valid, no req_valid, msg_ready high) in which v is
    // deliverable with Pending set; the replay must come within LIVE_BOUND of them. (Busy cycles may delay
    // it: the replay scanner runs at lowest priority, as the header says.)
    if (LIVE != 0) begin : g_live
        wire quiet = !req_valid && !irq_valid && msg_ready;
        for (genvar v = 0; v < VECTORS; v++) begin : g_v
            logic [7:0] wait_q;
            always_ff @(posedge clk) begin
                if (rst || !(pnd[v] && dlv(v)) || !quiet) wait_q <= '0;
                else if (wait_q != 8'hFF) wait_q <= wait_q + 1'b1;
            end
            always @(posedge clk) if (chk) a_replay_live: assert (32'(wait_q) < LIVE_BOUND);
        end
    end

    // ------------------------------------------------------------ reachability (cover mode): the assumptions
    // leave room for every behaviour the properties talk about.
    always @(posedge clk) begin
        if (chk) begin
            c_msg_taken: cover (pop && msg_data != '0 && msg_addr[63:32] != '0);
            c_replay: cover (replay);
            c_replay_fn_unmask: cover (replay && $past(!fn_ok) && !dut.check_q);
            c_pend_read: cover (rsp_valid && rd_d1_q && rd_pba_d1_q && rsp_rdata != '0);
            c_table_read: cover (rsp_valid && rd_d1_q && !rd_pba_d1_q && rsp_rdata != '0 && rd_off_d1_q[1:0] == 2'd2);
            c_fifo_full: cover (exq_n == CW'(FIFO_DEPTH));
            c_bad_vector: cover (irq_bad_vector);
            c_unmasked_write: cover (unmasked_write && unmasked_write_dw == 2'd0);
            c_msg_not_table: cover (pop && {msg_data, msg_addr} != pair(0) && {msg_data, msg_addr} == arm[0] && !sh_mask[0]);
        end
    end

    // ------------------------------------------------------------ helper invariants (RTL state vs model)
    localparam logic [127:0] ENTRY_RESET = 128'd1 << 96;
    for (genvar v = 0; v < VECTORS; v++) begin : g_h_entry
        wire [127:0] ent = {31'd0, sh_mask[v], sh_data[v], sh_hi[v], sh_lo[v][31:2], 2'b00};
        always @(posedge clk) begin
            if (chk && !dut.init_q) h_table: assert (dut.u_table.mem[v] == ent);
            if (chk && dut.init_q) h_table_init: assert (ent == ENTRY_RESET && (32'(dut.init_idx_q) <= v || dut.u_table.mem[v] == ENTRY_RESET));
            if (chk && dut.init_q) h_armed_init: assert (arm[v] == '0 && (32'(dut.init_idx_q) <= v || dut.u_armed.mem[v] == '0));
            // The armed RAM holds the model's pair, except while a commit CHECK of v is queued or in S1: the
            // model commits at the write, the RTL when the CHECK reads the entry (nothing lands in between).
            if (chk && !dut.init_q) begin
                if (dut.check_q && 32'(dut.check_vec_q) == v) h_armed_chk: assert (arm[v] == pair(v));
                else if (dut.s1_valid_q && dut.s1_kind_q == 3'd1 && dut.s1_commit_q && 32'(dut.s1_vec_q) == v)
                    h_armed_s1: assert (arm[v] == {dut.tbl_rd_data[95:64], dut.tbl_rd_data[63:32], dut.tbl_rd_data[31:2], 2'b00});
                else h_armed: assert (dut.u_armed.mem[v] == arm[v]);
            end
        end
    end
    // A deliverable vector with Pending set always has its replay on the way: an unmask CHECK queued or in S1,
    // the replay scanner before it, or the scanner about to restart (the function just became deliverable).
    for (genvar v = 0; v < VECTORS; v++) begin : g_h_sched
        always @(posedge clk) begin
            if (chk && pnd[v] && dlv(v))
                h_sched: assert ((dut.check_q && 32'(dut.check_vec_q) == v)
                                 || (dut.s1_valid_q && dut.s1_kind_q == 3'd1 && 32'(dut.s1_vec_q) == v)
                                 || (dut.scan_q && 32'(dut.scan_vec_q) <= v)
                                 || dut.blocked_q);
        end
    end
    for (genvar i = 0; i < FIFO_DEPTH; i++) begin : g_h_fifo
        always @(posedge clk) begin
            if (chk && i < 32'(exq_n))
                h_fifo: assert (dut.u_msg_fifo.mem[(32'(dut.u_msg_fifo.rd_ptr_q) + i) % FIFO_DEPTH] == exq[i]);
        end
    end
    always @(posedge clk) begin
        if (chk) begin
            if (!unmasked_q) h_quiet: assert (sh_mask == '1 && exq_n == '0);
            h_fifo_n: assert (dut.u_msg_fifo.count == exq_n && 32'(exq_n) <= FIFO_DEPTH);
            if (!dut.init_q) h_pba: assert (dut.u_pba.mem[0] == 64'(pnd) && dut.pba_nonzero_q[0] == (pnd != '0));
            if (dut.init_q) h_pba_init: assert (pnd == '0 && dut.pba_nonzero_q == '0 && (dut.init_idx_q == '0 || dut.u_pba.mem[0] == '0)
                                                && !dut.s1_valid_q && !dut.fwd_valid_q && !dut.afwd_valid_q && !dut.check_q && !dut.note_q && !unmasked_q && exq_n == '0);
            if (dut.fwd_valid_q) h_fwd: assert (dut.fwd_data_q == dut.u_pba.mem[0]);
            if (dut.s1_valid_q && !dut.s1_blank_q) h_s1_rd: assert (dut.tbl_rd_data == dut.u_table.mem[dut.s1_vec_q] && 32'(dut.s1_vec_q) < VECTORS);
            if (dut.s1_valid_q && !dut.s1_blank_q && !(dut.afwd_valid_q && dut.afwd_vec_q == dut.s1_vec_q))
                h_s1_arm: assert (dut.arm_rd_data == dut.u_armed.mem[dut.s1_vec_q]);
            if (dut.afwd_valid_q) h_afwd: assert (dut.afwd_data_q == dut.u_armed.mem[dut.afwd_vec_q] && 32'(dut.afwd_vec_q) < VECTORS);
            h_s1_fire: assert ((dut.s1_valid_q && dut.s1_kind_q == 3'd0) == rq_d1_q && (!rq_d1_q || dut.s1_vec_q == rq_d1_vec_q));
            if (dut.check_q) h_check: assert (32'(dut.check_vec_q) < VECTORS && !dut.note_q);
            h_note: assert (dut.note_q == nt_d1_q && (!nt_d1_q || (dut.note_vec_q == nt_d1_vec_q && dut.note_dw_q == nt_d1_dw_q)));
            h_note_s1: assert ((dut.s1_valid_q && dut.s1_kind_q == 3'd4) == nt_d2_q
                               && (!nt_d2_q || (dut.s1_vec_q == nt_d2_vec_q && dut.s1_dw_q == nt_d2_dw_q)));
            if (dut.s1_valid_q && dut.s1_commit_q) h_commit_kind: assert (dut.s1_kind_q == 3'd1);
            h_rd: assert ((dut.s1_valid_q && (dut.s1_kind_q == 3'd2 || dut.s1_kind_q == 3'd3)) == rd_d1_q);
            h_wr: assert (dut.wr_rsp_q == (acc_d1_q && !rd_d1_q));
            if (dut.init_q) h_init_idx: assert (32'(dut.init_idx_q) < VECTORS);
            if (dut.scan_q) h_scan_idx: assert (32'(dut.scan_vec_q) < VECTORS);
        end
    end
endmodule

`default_nettype wire
