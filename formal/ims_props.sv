// Formal harness of imsdev_ims (rtl/ims/imsdev_ims.sv): the per-WQ IMS entries, pending bits and message
// engine against a reference model written from the same MMIO requests, following the MSI-X rules of PCIe
// Base r6.3 §6.1.4 that IMS adopts (mask, pending, exactly-once replay) and the IMS rules of the RTL header
// (torn-message rule, PASID binding, error reports).
//
// Reference model (harness state):
//   sh_*[e]   entry e = wq*IMS_PER_WQ + index as software wrote it: ADDR_LO, ADDR_HI, DATA, CTRL.MASK,
//             CTRL.PASID_EN, CTRL.PASID. ADDR/DATA writes take effect only while the entry's MASK is 1
//             (header, torn-message rule: otherwise dropped and reported); CTRL writes always. After reset
//             MASK=1 and everything else 0.
//   pnd[e]    CTRL.PENDING: set by an interrupt request decided while the entry cannot deliver, consumed by
//             the one message that replays it, cleared by a CTRL write that changes PASID_EN or PASID.
//   exq       messages decided and not yet taken, in order, each the (address, data) pair of its entry at
//             the decision.
// Timing (header): an MMIO request accepted in cycle c is answered in c+1 and a write has landed at the end
// of c+1; an interrupt request accepted in c is decided in c+1 (its message, if any, is queued then:
// msg_commit) and its error pulse is in c+2. The RTL's index of the event in S1 (s1_lin_q) is read only to
// name the entry of a replayed (pending) message; every check is against the model.
//
// Assumptions: only a reset in the first cycle (m_reset); rst may rise again at any later cycle (FLR). Every
// other input is free in every cycle: blocked, msg_ready, irq_valid/irq_wq/irq_index/irq_pasid (any value, may
// be withdrawn), and the MMIO port. The port list promises "one request outstanding" and a request held until
// accepted; the proofs do not need either (checked: they hold with requests back to back and withdrawn), so
// neither is assumed.
//
// Properties (`a_*`):
//   a_commit_unblocked no message is decided while `blocked` (Bus Master Enable = 0)
//   a_commit_unmasked  no message is decided for an entry whose MASK is 1
//   a_fire_sends       a request for a deliverable entry with a matching (or no) PASID binding sends now
//   a_fire_pends       a request for a masked/blocked entry sends nothing now (it sets PENDING)
//   a_pasid_no_msg     a request whose PASID differs from a PASID_EN entry's PASID sends nothing and does
//                      not set PENDING (model), and is reported as PASID_MISMATCH
//   a_replay_pending   any other message is the replay of a PENDING bit of a deliverable entry, and
//                      consumes it: a pending request is sent at most once
//   a_msg_pair         every message taken is the whole (address, data) pair of its entry at the decision
//                      (which, as ADDR/DATA only change while masked, is the pair written before the last
//                      unmask), in decision order, address[1:0] = 0
//   a_msg_count        msg_valid exactly when a decided message has not been taken
//   a_quiet_reset      after reset nothing is decided or sent until software has cleared some MASK
//   a_read             MMIO reads return the model's entry (MASK 1 and PENDING 0 after reset), 0 outside
//                      the implemented entries and windows
//   a_rsp_once         every accepted MMIO request is answered exactly once, in the next cycle
//   a_err              err_* pulses exactly for: out-of-range requests (INDEX_OUT_OF_RANGE), PASID
//                      mismatches (PASID_MISMATCH), ADDR/DATA writes while unmasked (WR_UNMASKED), with
//                      the header's fields
//   a_replay_live      (LIVE=1 only) a deliverable entry with PENDING set sends within LIVE_BOUND quiet
//                      cycles (no irq_valid, no req_valid, msg_ready high)
// Helper invariants (`h_*`) tie the RTL's RAMs, FIFO and pipeline to the model for k-induction.
`default_nettype none

module ims_props #(
    parameter int NUM_WQ       = 2,
    parameter int IMS_PER_WQ   = 2,
    parameter int FIFO_DEPTH   = 4,
    parameter int WINDOW_BYTES = 64,
    parameter int OFF_W        = 6,
    parameter int LIVE         = 0,
    parameter int LIVE_BOUND   = 16
) (
    input wire logic             clk,
    input wire logic             rst,
    input wire logic             blocked,
    input wire logic             req_valid,
    input wire logic             req_write,
    input wire logic [OFF_W-1:0] req_off,
    input wire logic [31:0]      req_wdata,
    input wire logic [3:0]       req_be,
    input wire logic             irq_valid,
    input wire logic [2:0]       irq_wq,
    input wire logic [15:0]      irq_index,
    input wire logic [19:0]      irq_pasid,
    input wire logic             msg_ready
);
    localparam int ENTRIES = NUM_WQ * IMS_PER_WQ;
    localparam int EW      = (ENTRIES > 1) ? $clog2(ENTRIES) : 1;
    localparam int WIN_W   = $clog2(WINDOW_BYTES / 4);
    localparam int CW      = $clog2(FIFO_DEPTH + 1);
    initial if (ENTRIES > 64) $fatal(1, "ims_props: the model covers one pending word (<= 64 entries)");

    localparam logic [7:0] ERR_WR_UNMASKED = 8'h01, ERR_INDEX_RANGE = 8'h02, ERR_PASID_MISMATCH = 8'h03;

    logic        req_ready, rsp_valid, irq_ready, msg_valid, msg_commit, err_valid, init_busy;
    logic [31:0] rsp_rdata, msg_data;
    logic [63:0] msg_addr;
    logic [7:0]  err_code;
    logic [2:0]  err_wq;
    logic [15:0] err_index;
    logic [19:0] err_pasid;

    imsdev_ims #(.NUM_WQ(NUM_WQ), .IMS_PER_WQ(IMS_PER_WQ), .FIFO_DEPTH(FIFO_DEPTH), .WINDOW_BYTES(WINDOW_BYTES),
                 .OFF_W(OFF_W)) dut (
        .clk, .rst, .blocked,
        .req_valid, .req_ready, .req_write, .req_off, .req_wdata, .req_be, .rsp_valid, .rsp_rdata,
        .irq_valid, .irq_ready, .irq_wq, .irq_index, .irq_pasid,
        .msg_valid, .msg_ready, .msg_addr, .msg_data, .msg_commit,
        .err_valid, .err_code, .err_wq, .err_index, .err_pasid, .init_busy
    );

    logic past_valid;
    initial past_valid = 1'b0;
    always_ff @(posedge clk) past_valid <= 1'b1;
    wire chk = past_valid && !rst;

    // ------------------------------------------------------------ MMIO requests accepted (answered in the next cycle)
    wire           mm_acc = req_valid && req_ready;
    logic          acc_d1_q;

    always_ff @(posedge clk) acc_d1_q <= !rst && mm_acc;

    always @(posedge clk) if (!past_valid) m_reset: assume (rst);

    // ------------------------------------------------------------ reference model
    logic [ENTRIES-1:0][31:0] sh_lo, sh_hi, sh_data;
    logic [ENTRIES-1:0]       sh_mask, sh_pen;
    logic [ENTRIES-1:0][19:0] sh_pasid;
    logic [ENTRIES-1:0]       pnd;
    logic [FIFO_DEPTH-1:0][95:0] exq;
    logic [CW-1:0]            exq_n;
    logic                     unmasked_q;

    function automatic logic [31:0] merge(input logic [31:0] old, input logic [31:0] wd, input logic [3:0] be);
        for (int b = 0; b < 4; b++) if (be[b]) old[b*8 +: 8] = wd[b*8 +: 8];
        return old;
    endfunction

    function automatic logic [95:0] pair(input int e);
        return {sh_data[e], sh_hi[e], sh_lo[e][31:2], 2'b00};
    endfunction

    function automatic logic [31:0] ctrl(input int e);   // CTRL as software reads it
        return {sh_pasid[e], 8'd0, sh_pen[e], 1'b0, pnd[e], sh_mask[e]};
    endfunction

    function automatic logic dlv(input int e);
        return !blocked && !sh_mask[e];
    endfunction

    // Interrupt request accepted this cycle, decided next cycle.
    wire irq_acc    = irq_valid && irq_ready;
    wire irq_in_rng = 32'(irq_wq) < NUM_WQ && 32'(irq_index) < IMS_PER_WQ;
    logic          rq_d1_q, bad_d1_q;      // in-range / out-of-range request accepted last cycle
    logic [EW-1:0] rq_e_q;
    logic [2:0]    rq_wq_q;
    logic [15:0]   rq_idx_q;
    logic [19:0]   rq_pasid_q;

    // MMIO request accepted last cycle (performed this cycle).
    logic             rd_d1_q, wr_d1_q;
    logic [OFF_W-1:0] mm_off_q;
    logic [31:0]      mm_wdata_q;
    logic [3:0]       mm_be_q;
    wire [OFF_W-WIN_W-1:0] mm_wq  = mm_off_q[OFF_W-1:WIN_W];
    wire [WIN_W-3:0]       mm_ent = mm_off_q[WIN_W-1:2];
    wire [1:0]             mm_dw  = mm_off_q[1:0];
    wire                   mm_in  = 32'(mm_wq) < NUM_WQ && 32'(mm_ent) < IMS_PER_WQ;
    wire [EW-1:0]          mm_e   = EW'(32'(mm_wq) * IMS_PER_WQ + 32'(mm_ent));

    // The decision of this cycle.
    wire pasid_bad   = rq_d1_q && sh_pen[rq_e_q] && rq_pasid_q != sh_pasid[rq_e_q];
    wire fire_ok     = rq_d1_q && !pasid_bad && dlv(32'(rq_e_q));
    wire fire_pend   = rq_d1_q && !pasid_bad && !dlv(32'(rq_e_q));
    wire [EW-1:0] commit_e = rq_d1_q ? rq_e_q : dut.s1_lin_q;
    wire replay      = msg_commit && !rq_d1_q;
    wire pop         = msg_valid && msg_ready;

    // The MMIO write of this cycle.
    wire        wr_do     = wr_d1_q && mm_in && mm_be_q != '0;
    wire        wr_ctrl   = wr_do && mm_dw == 2'd3;
    wire        wr_drop   = wr_do && mm_dw != 2'd3 && !sh_mask[mm_e];
    wire [31:0] ctrl_new  = merge(ctrl(32'(mm_e)), mm_wdata_q, mm_be_q);
    wire        rebind    = wr_ctrl && (ctrl_new[3] != sh_pen[mm_e] || ctrl_new[31:12] != sh_pasid[mm_e]);

    // Error expected in the next cycle.
    logic        err_exp_q;
    logic [7:0]  err_code_q;
    logic [2:0]  err_wq_q;
    logic [15:0] err_idx_q;
    logic [19:0] err_pasid_q;

    always_ff @(posedge clk) begin
        rd_d1_q    <= !rst && mm_acc && !req_write;
        wr_d1_q    <= !rst && mm_acc && req_write;
        mm_off_q   <= req_off;
        mm_wdata_q <= req_wdata;
        mm_be_q    <= req_be;
        rq_e_q     <= EW'(32'(irq_wq) * IMS_PER_WQ + 32'(irq_index));
        rq_wq_q    <= irq_wq;
        rq_idx_q   <= irq_index;
        rq_pasid_q <= irq_pasid;
        err_exp_q   <= !rst && (bad_d1_q || pasid_bad || wr_drop);
        err_code_q  <= bad_d1_q ? ERR_INDEX_RANGE : pasid_bad ? ERR_PASID_MISMATCH : ERR_WR_UNMASKED;
        err_wq_q    <= (bad_d1_q || pasid_bad) ? rq_wq_q : 3'(mm_wq);
        err_idx_q   <= (bad_d1_q || pasid_bad) ? rq_idx_q : 16'(mm_ent);
        err_pasid_q <= (bad_d1_q || pasid_bad) ? rq_pasid_q : sh_pasid[mm_e];
        if (rst) begin
            sh_lo <= '0; sh_hi <= '0; sh_data <= '0; sh_mask <= '1; sh_pen <= '0; sh_pasid <= '0;
            pnd <= '0; exq_n <= '0; unmasked_q <= 1'b0; rq_d1_q <= 1'b0; bad_d1_q <= 1'b0;
        end else begin
            rq_d1_q  <= irq_acc && irq_in_rng;
            bad_d1_q <= irq_acc && !irq_in_rng;
            // MMIO writes.
            if (wr_ctrl) begin
                sh_mask[mm_e]  <= ctrl_new[0];
                sh_pen[mm_e]   <= ctrl_new[3];
                sh_pasid[mm_e] <= ctrl_new[31:12];
                if (!ctrl_new[0]) unmasked_q <= 1'b1;
            end else if (wr_do && sh_mask[mm_e]) begin
                case (mm_dw)
                    2'd0: sh_lo[mm_e]   <= merge(sh_lo[mm_e], mm_wdata_q, mm_be_q);
                    2'd1: sh_hi[mm_e]   <= merge(sh_hi[mm_e], mm_wdata_q, mm_be_q);
                    default: sh_data[mm_e] <= merge(sh_data[mm_e], mm_wdata_q, mm_be_q);
                endcase
            end
            // Pending.
            if (rebind) pnd[mm_e] <= 1'b0;
            if (fire_pend) pnd[rq_e_q] <= 1'b1;
            if (replay) pnd[dut.s1_lin_q] <= 1'b0;
            // Decided messages, in order.
            for (int i = 0; i < FIFO_DEPTH; i++) begin
                if (pop) exq[i] <= (i + 1 < FIFO_DEPTH) ? exq[(i + 1) % FIFO_DEPTH] : exq[i];
            end
            if (msg_commit && 32'(exq_n) - (pop ? 1 : 0) < FIFO_DEPTH)
                exq[32'(exq_n) - (pop ? 1 : 0)] <= pair(32'(commit_e));
            exq_n <= CW'(32'(exq_n) + (msg_commit ? 1 : 0) - (pop ? 1 : 0));
        end
    end

    // MMIO read data expected from the model.
    logic [31:0] rd_exp;
    always_comb begin
        rd_exp = '0;
        if (mm_in) begin
            case (mm_dw)
                2'd0: rd_exp = {sh_lo[mm_e][31:2], 2'b00};
                2'd1: rd_exp = sh_hi[mm_e];
                2'd2: rd_exp = sh_data[mm_e];
                2'd3: rd_exp = ctrl(32'(mm_e));
            endcase
        end
    end

    // ------------------------------------------------------------ properties
    always @(posedge clk) begin
        if (chk) begin
            if (msg_commit) a_commit_unblocked: assert (!blocked);
            if (msg_commit) a_commit_unmasked: assert (!sh_mask[commit_e]);
            if (fire_ok) a_fire_sends: assert (msg_commit);
            if (fire_pend) a_fire_pends: assert (!msg_commit);
            if (pasid_bad) a_pasid_no_msg: assert (!msg_commit);
            if (replay) a_replay_pending: assert (pnd[dut.s1_lin_q] && dlv(32'(dut.s1_lin_q)) && 32'(dut.s1_lin_q) < ENTRIES);
            if (msg_valid) a_msg_pair: assert (exq_n != '0 && {msg_data, msg_addr} == exq[0]);
            a_msg_count: assert (msg_valid == (exq_n != '0) && (!msg_commit || pop || 32'(exq_n) < FIFO_DEPTH));
            if (!unmasked_q) a_quiet_reset: assert (!msg_commit && !msg_valid);
            if (rsp_valid && rd_d1_q) a_read: assert (rsp_rdata == rd_exp);
            a_rsp_once: assert (rsp_valid == acc_d1_q);
            a_err: assert (err_valid == err_exp_q && (!err_valid || (err_code == err_code_q && err_wq == err_wq_q
                           && err_index == err_idx_q && err_pasid == err_pasid_q)));
        end
    end

    // ------------------------------------------------------------ bounded replay (LIVE=1)
    if (LIVE != 0) begin : g_live
        wire quiet = !req_valid && !irq_valid && msg_ready;
        for (genvar e = 0; e < ENTRIES; e++) begin : g_e
            logic [7:0] wait_q;
            always_ff @(posedge clk) begin
                if (rst || !(pnd[e] && dlv(e)) || !quiet) wait_q <= '0;
                else if (wait_q != 8'hFF) wait_q <= wait_q + 1'b1;
            end
            always @(posedge clk) if (chk) a_replay_live: assert (32'(wait_q) < LIVE_BOUND);
        end
    end

    // ------------------------------------------------------------ reachability (cover mode)
    always @(posedge clk) begin
        if (chk) begin
            c_msg_taken: cover (pop && msg_data != '0 && msg_addr[63:32] != '0);
            c_replay: cover (replay);
            c_replay_unblock: cover (replay && $past(blocked) && !dut.check_q);
            c_pasid_err: cover (err_valid && err_code == ERR_PASID_MISMATCH);
            c_pasid_ok: cover (msg_commit && rq_d1_q && sh_pen[rq_e_q]);
            c_range_err: cover (err_valid && err_code == ERR_INDEX_RANGE);
            c_wr_unmasked: cover (err_valid && err_code == ERR_WR_UNMASKED);
            c_pend_read: cover (rsp_valid && rd_d1_q && rsp_rdata[1]);
            c_rebind_clears: cover (rebind && pnd[mm_e]);
            c_fifo_full: cover (exq_n == CW'(FIFO_DEPTH));
        end
    end

    // ------------------------------------------------------------ helper invariants (RTL state vs model)
    localparam logic [127:0] ENTRY_RESET = 128'd1 << 96;
    for (genvar e = 0; e < ENTRIES; e++) begin : g_h_entry
        wire [127:0] ent = {sh_pasid[e], 8'd0, sh_pen[e], 2'b00, sh_mask[e], sh_data[e], sh_hi[e], sh_lo[e][31:2], 2'b00};
        always @(posedge clk) begin
            if (chk && !dut.init_q) h_entry: assert (dut.u_entries.mem[e] == ent);
            if (chk && dut.init_q) h_entry_init: assert (ent == ENTRY_RESET && (32'(dut.init_idx_q) <= e || dut.u_entries.mem[e] == ENTRY_RESET));
            if (chk && pnd[e] && dlv(e))
                h_sched: assert ((dut.check_q && 32'(dut.check_lin_q) == e)
                                 || (dut.s1_valid_q && dut.s1_kind_q == 3'd2 && 32'(dut.s1_lin_q) == e)
                                 || (dut.scan_q && 32'(dut.scan_lin_q) <= e)
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
            if (!dut.init_q) h_pnd: assert (dut.u_pending.mem[0] == 64'(pnd) && dut.pnd_nonzero_q[0] == (pnd != '0));
            if (dut.init_q) h_pnd_init: assert (pnd == '0 && dut.pnd_nonzero_q == '0 && (dut.init_idx_q == '0 || dut.u_pending.mem[0] == '0)
                                                && !dut.s1_valid_q && !dut.fwd_ent_hit_q && !dut.fwd_pnd_hit_q
                                                && !dut.check_q && !unmasked_q && exq_n == '0);
            // a forward hit: S1's entry / pending word was written last cycle with the forwarded data
            if (dut.fwd_pnd_hit_q) h_fwd_pnd: assert (dut.fwd_pnd_data_q == dut.u_pending.mem[0]);
            if (dut.fwd_ent_hit_q) h_fwd_ent: assert (dut.fwd_ent_data_q == dut.u_entries.mem[dut.s1_lin_q]
                                                      && 32'(dut.s1_lin_q) < ENTRIES);
            if (dut.s1_valid_q) h_s1_bitmask: assert (dut.s1_bitmask_q == 64'd1 << (32'(dut.s1_lin_q) % 64));
            if (dut.s1_valid_q && dut.s1_kind_q != 3'd1 && !dut.s1_blank_q)
                h_s1_rd: assert (dut.ent_cur == dut.u_entries.mem[dut.s1_lin_q] && dut.pnd_cur == dut.u_pending.mem[0]
                                 && 32'(dut.s1_lin_q) < ENTRIES);
            h_s1_fire: assert ((dut.s1_valid_q && dut.s1_kind_q == 3'd0) == rq_d1_q
                               && (!rq_d1_q || (dut.s1_lin_q == rq_e_q && dut.s1_pasid_q == rq_pasid_q)));
            h_s1_bad: assert ((dut.s1_valid_q && dut.s1_kind_q == 3'd1) == bad_d1_q);
            h_s1_rd_kind: assert ((dut.s1_valid_q && dut.s1_kind_q == 3'd3) == rd_d1_q);
            h_s1_wr_kind: assert ((dut.s1_valid_q && dut.s1_kind_q == 3'd4) == wr_d1_q);
            if (dut.check_q) h_check: assert (32'(dut.check_lin_q) < ENTRIES);
            if (dut.init_q) h_init_idx: assert (32'(dut.init_idx_q) < ENTRIES);
            if (dut.scan_q) h_scan_idx: assert (32'(dut.scan_lin_q) < ENTRIES);
        end
    end
endmodule

`default_nettype wire
