// Work-queue manager: WQ state and latched configuration, the descriptor queues (one RAM shared by all
// WQs, WQ_DEPTH slots each), the command interface (CMD / CMDSTS) and priority arbitration between WQs.
//
// States: DISABLED -> ENABLED (ENABLE_WQ) -> DRAINING (DISABLE_WQ, DRAIN_WQ, DRAIN_ALL, DISABLE_DEVICE)
// -> DISABLED or back to ENABLED once the WQ has no queued descriptor and none executing.
// Aborts drop queued descriptors (none is half-started: a descriptor leaves the queue whole, when the
// engine takes it) and report how many in CMDSTS.RESULT.
//
// DRAIN_PASID / ABORT_PASID (Linux idxd: process exit and unbind) leave every WQ enabled and accepting.
// At the command each WQ's queue gets a mark: the number of descriptors queued before it (mark_q). The
// command waits until every WQ has dequeued past its mark and every descriptor the engine took before the
// mark has finished (the engine tracks them: deq_old, mark_inflight, eng_old_busy): a conservative drain, since the queue RAM is read only at dequeue, so
// which earlier descriptors carry the PASID is not known until then. ABORT_PASID drops, at dequeue, every
// descriptor before the mark whose PASID is OPERAND (deq_discard: the engine never starts it) and counts
// it in RESULT; the others before the mark run. Descriptors submitted after the command run normally.
//
// When a drain's ACTIVE falls, everything of the drained descriptors is on the link or committed to it:
// the engine finished them (their DMA writes were accepted on tx_req, their interrupt messages decided by
// the MSI-X/IMS engine), and the egress ordering unit sends the completion of any later CMDSTS read only
// after every posted TLP committed before it. So software that reads ACTIVE = 0 sees no TLP of the
// drained work after that completion.
`default_nettype none

module imsdev_wq_mgr #(
    parameter int NUM_WQ   = 8,
    parameter int WQ_DEPTH = 32,
    parameter int BSW      = 4,      // width of WQCFG3.MAX_BATCH_SHIFT
    parameter bit HAS_BOF  = 1'b0,   // CAP3.BOF: ENABLE_WQ with WQCFG2.BOF_EN fails with WQ_BOF_EN when 0
    localparam int WQW     = (NUM_WQ > 1) ? $clog2(NUM_WQ) : 1,
    localparam int PTRW    = (WQ_DEPTH > 1) ? $clog2(WQ_DEPTH) : 1,
    localparam int AW      = (NUM_WQ * WQ_DEPTH > 1) ? $clog2(NUM_WQ * WQ_DEPTH) : 1,
    localparam int ENTRY_W = 512 + 22      // descriptor, pasid_valid, pasid, priv
) (
    input  wire logic                 clk,
    input  wire logic                 rst,
    input  wire logic                 cfg_pasid_en,

    // Command interface (from the CSR block): cmd_write pulses when CMD was written (value valid).
    input  wire logic                 cmd_write,
    input  wire logic [4:0]           cmd_code,
    input  wire logic [19:0]          cmd_operand,
    output      logic                 cmdsts_active,
    output      logic [7:0]           cmdsts_err,
    output      logic [15:0]          cmdsts_result,
    output      logic                 dev_enabled,

    // WQCFG as software wrote it (latched at ENABLE_WQ)
    input  wire logic [NUM_WQ*16-1:0] sw_size,
    input  wire logic [NUM_WQ-1:0]    sw_dedicated,
    input  wire logic [NUM_WQ*4-1:0]  sw_prio,
    input  wire logic [NUM_WQ*20-1:0] sw_pasid,
    input  wire logic [NUM_WQ-1:0]    sw_pasid_en,
    input  wire logic [NUM_WQ-1:0]    sw_priv,
    input  wire logic [NUM_WQ*5-1:0]  sw_max_xfer_shift,
    input  wire logic [NUM_WQ*BSW-1:0] sw_max_batch_shift,
    input  wire logic [NUM_WQ-1:0]    sw_bof_en,

    // Latched configuration and state, for the portal, the engine and WQCFG6
    output      logic [NUM_WQ-1:0]    wq_accepting,
    output      logic [NUM_WQ-1:0]    wq_full,
    output      logic [NUM_WQ-1:0]    wq_dedicated,
    output      logic [NUM_WQ-1:0]    wq_priv,
    output      logic [NUM_WQ-1:0]    wq_pasid_en,
    output      logic [NUM_WQ*20-1:0] wq_pasid,
    output      logic [NUM_WQ*5-1:0]  wq_max_xfer_shift,
    output      logic [NUM_WQ*BSW-1:0] wq_max_batch_shift,
    output      logic [NUM_WQ*16-1:0] wq_occupancy,
    output      logic [NUM_WQ*2-1:0]  wq_state,

    // Enqueue from the portal (space was checked there)
    input  wire logic                 enq_valid,
    input  wire logic [WQW-1:0]       enq_wq,
    input  wire logic [511:0]         enq_desc,
    input  wire logic                 enq_pasid_valid,
    input  wire logic [19:0]          enq_pasid,
    input  wire logic                 enq_priv,

    // Dequeue to the engine: deq_req while its issue stage is idle or hands its descriptor over in this cycle;
    // deq_grant in the same cycle; the descriptor on the next. The engine never requests in the cycle after
    // a grant (it is then taking the descriptor, I_WAIT); the queue's own update relies on it (count_eff).
    input  wire logic                 deq_req,
    output      logic                 deq_grant,
    output      logic                 deq_valid,
    output      logic [WQW-1:0]       deq_wq,
    output      logic [511:0]         deq_desc,
    output      logic                 deq_pasid_valid,
    output      logic [19:0]          deq_pasid,
    output      logic                 deq_priv,
    output      logic                 deq_discard,   // with deq_valid: ABORT_PASID dropped it; do not run it

    // Descriptors taken by the engine and not finished (for the drains): the WQs they came from, and
    // whether one taken before a PASID command's mark is among them. deq_old goes with deq_valid;
    // mark_inflight makes every descriptor the engine holds "old" (a PASID command starts).
    input  wire logic [NUM_WQ-1:0]    busy_wqs,
    input  wire logic                 eng_old_busy,
    output      logic                 deq_old,
    output      logic                 mark_inflight,

    // Interrupt handles (imsdev_int_handles): REQUEST/RELEASE_INT_HANDLE write the table, RESET_DEVICE
    // clears it; while it is cleared (hdl_busy) no handle command runs, nor, if handles are checked
    // (hdl_required), any descriptor.
    output      logic [19:0]          hdl_operand,
    input  wire logic                 hdl_operand_ok,
    input  wire logic [15:0]          hdl_handle,
    output      logic                 hdl_cmd_wr,
    output      logic                 hdl_cmd_grant,
    output      logic                 hdl_clear_all,
    input  wire logic                 hdl_busy,
    input  wire logic                 hdl_required,    // INTHDL_CTL.REQUIRED

    // every WQ empty with nothing taken from it unfinished, and no command executing (imsdev_top's dev_idle)
    output      logic                 idle
);
    import imsdev_map_pkg::*;

    initial begin
        // one WQCFG entry per WQ in regs/imsdev.rdl (its WQCFG6 is where OCCUPANCY and STATE are read)
        if (NUM_WQ < 1 || NUM_WQ > int'(CSR_WQCFG_COUNT))
            $fatal(1, "imsdev_wq_mgr: NUM_WQ (%0d) must be 1..%0d", NUM_WQ, CSR_WQCFG_COUNT);
        if (WQ_DEPTH < 2 || WQ_DEPTH > 4096) $fatal(1, "imsdev_wq_mgr: WQ_DEPTH (%0d) must be 2..4096", WQ_DEPTH);
    end

    localparam logic [1:0] ST_DISABLED = 2'd0, ST_ENABLED = 2'd1, ST_DRAINING = 2'd2;

    logic [1:0]      state_q  [NUM_WQ];
    logic [PTRW-1:0] head_q   [NUM_WQ];
    logic [PTRW-1:0] tail_q   [NUM_WQ];
    logic [15:0]     count_q  [NUM_WQ];
    // count_q + 1 and count_q - 1, kept in flip-flops (Fmax): a dequeue grant, which comes late in the
    // cycle (the engine's fetch and the pick), then only selects the next count instead of carrying
    // through a subtract. They move with count_q on every write; a simulation check compares them.
    logic [15:0]     count_up_q [NUM_WQ];
    logic [15:0]     count_dn_q [NUM_WQ];
    // A grant moves the WQ's head, count and mark one edge late, in the cycle after the grant (from
    // deq_valid_q / deq_wq_q), not on the grant itself. Fmax: the grant comes at the end of the engine's issue
    // decision, and it was the whole design's recurring worst path into these ~700 enables (docs/fmax.md,
    // rounds 12-14). No second grant can come in that cycle (see deq_req), and every reader of the count
    // there reads count_eff, the count with the pending dequeue applied, so each output is as before in
    // every cycle. A simulation check compares count_eff with a count updated at the grant.
    logic [15:0]     count_eff  [NUM_WQ];
    logic [15:0]     size_q   [NUM_WQ];
    logic [3:0]      prio_q   [NUM_WQ];
    logic [NUM_WQ-1:0] dedicated_q, priv_q, pasid_en_q;
    logic [19:0]     pasid_q  [NUM_WQ];
    logic [4:0]      xfer_q   [NUM_WQ];
    logic [BSW-1:0]  batch_q  [NUM_WQ];
    logic            dev_en_q;

    // ------------------------------------------------------------------ queue storage
    logic           ram_we;
    logic [AW-1:0]  ram_waddr, ram_raddr;
    logic           ram_re;
    logic [ENTRY_W-1:0] ram_rdata;

    function automatic logic [AW-1:0] slot(input logic [WQW-1:0] w, input logic [PTRW-1:0] p);
        return AW'(32'(w) * WQ_DEPTH + 32'(p));
    endfunction

    assign ram_we    = enq_valid;
    assign ram_waddr = slot(enq_wq, tail_q[enq_wq]);

    imsdev_ram_sdp #(.WIDTH(ENTRY_W), .DEPTH(NUM_WQ * WQ_DEPTH), .LANE_W(ENTRY_W)) u_queue (
        .clk, .wr_en(ram_we), .wr_addr(ram_waddr), .wr_data({enq_priv, enq_pasid, enq_pasid_valid, enq_desc}),
        .rd_en(ram_re), .rd_addr(ram_raddr), .rd_data(ram_rdata)
    );

    // ------------------------------------------------------------------ command FSM
    typedef enum logic [1:0] {C_IDLE, C_EXEC, C_WAIT} cstate_e;
    cstate_e       cst_q;
    logic [4:0]    cmd_q;
    logic [WQW-1:0] cmd_wq_q;
    logic          cmd_wq_ok_q;
    logic [7:0]    err_q;
    logic [15:0]   result_q;
    logic          drain_all_q;             // waiting for every WQ (DRAIN_ALL / DISABLE_DEVICE)
    logic [NUM_WQ-1:0] resume_q;            // WQs to return to ENABLED after a drain
    logic [15:0]   mark_q [NUM_WQ];         // DRAIN/ABORT_PASID: descriptors queued before the command, left
    logic [15:0]   mark_dn_q [NUM_WQ];      // mark_q - 1 (Fmax, as count_dn_q): a grant only selects it
    logic          deq_old_q;               // the descriptor read this cycle was queued before the mark
    logic [19:0]   cmd_pasid_q;             // the operand as written (a PASID, or an interrupt entry)
    wire           pasid_cmd = cmd_q == CMD_DRAIN_PASID || cmd_q == CMD_ABORT_PASID;
    wire           hdl_cmd   = cmd_q == CMD_REQUEST_INT_HANDLE || cmd_q == CMD_RELEASE_INT_HANDLE;

    // A WQ is idle when nothing is queued and the engine holds none of its descriptors. A descriptor granted
    // in this cycle is in neither (count_q drops next cycle, the engine sees it next cycle): not idle then.
    function automatic logic wq_idle(input logic [WQW-1:0] w, input logic [15:0] cnt, input logic [NUM_WQ-1:0] bw);
        return cnt == 16'd0 && !bw[w];
    endfunction

    logic all_idle;
    always_comb begin
        all_idle = 1'b1;
        for (int w = 0; w < NUM_WQ; w++) if (!wq_idle(WQW'(w), count_eff[w], busy_wqs)) all_idle = 1'b0;
    end

    // Aborting in the same cycle as a dequeue would count the dequeued descriptor twice, and a PASID
    // command's marks are taken from count_q: no grant in that cycle.
    wire abort_now = (cst_q == C_EXEC) && (cmd_q == CMD_ABORT_ALL || cmd_q == CMD_RESET_DEVICE
                                         || cmd_q == CMD_ABORT_WQ || cmd_q == CMD_RESET_WQ || pasid_cmd);

    logic marks_done;
    always_comb begin
        marks_done = !eng_old_busy && !(deq_valid_q && deq_old_q);
        for (int w = 0; w < NUM_WQ; w++) if (mark_q[w] != 16'd0) marks_done = 1'b0;
    end
    assign deq_old       = deq_old_q;
    assign mark_inflight = cst_q == C_EXEC && pasid_cmd;

    // ------------------------------------------------------------------ arbitration
    logic [WQW-1:0] last_q;
    logic           pick_valid;
    logic [WQW-1:0] pick;
    always_comb begin
        logic [3:0] best;
        pick_valid = 1'b0;
        pick       = '0;
        best       = '0;
        for (int w = 0; w < NUM_WQ; w++) begin
            if (state_q[w] != ST_DISABLED && count_q[w] != 16'd0 && (!pick_valid || prio_q[w] > best)) begin
                pick_valid = 1'b1;
                best       = prio_q[w];
            end
        end
        // Among the highest priority, the first after the last grant (round robin).
        for (int k = NUM_WQ; k >= 1; k--) begin
            if (state_q[(32'(last_q) + k) % NUM_WQ] != ST_DISABLED && count_q[(32'(last_q) + k) % NUM_WQ] != 16'd0
                && prio_q[(32'(last_q) + k) % NUM_WQ] == best)
                pick = WQW'((32'(last_q) + k) % NUM_WQ);
        end
    end

    // While the handle table is cleared its lookups mean nothing: no dequeue then, if handles are checked.
    assign deq_grant = deq_req && pick_valid && !abort_now && !(hdl_busy && hdl_required);

    assign hdl_operand   = cmd_pasid_q;
    assign hdl_cmd_wr    = cst_q == C_EXEC && hdl_cmd && hdl_operand_ok && !hdl_busy;
    assign hdl_cmd_grant = cmd_q == CMD_REQUEST_INT_HANDLE;
    assign hdl_clear_all = cst_q == C_EXEC && cmd_q == CMD_RESET_DEVICE;
    // The queue is read every cycle at the pick's head (Fmax: the read register no longer waits on the grant
    // for its 534 enables). deq_desc is read only with deq_valid, the cycle after a grant, when it holds the
    // granted entry as before; in the other cycles nothing reads it.
    assign ram_re    = 1'b1;
    assign ram_raddr = slot(pick, head_q[pick]);

    logic           deq_valid_q;
    logic [WQW-1:0] deq_wq_q;
    logic [NUM_WQ-1:0] deq_pend;            // the WQ whose grant of the cycle before is applied at this edge
    always_comb
        for (int w = 0; w < NUM_WQ; w++) begin
            deq_pend[w]  = deq_valid_q && 32'(deq_wq_q) == w;
            count_eff[w] = deq_pend[w] ? count_dn_q[w] : count_q[w];
        end
    assign deq_valid       = deq_valid_q;
    assign deq_wq          = deq_wq_q;
    assign deq_desc        = ram_rdata[511:0];
    assign deq_pasid_valid = ram_rdata[512];
    assign deq_pasid       = ram_rdata[532:513];
    assign deq_priv        = ram_rdata[533];
    assign deq_discard     = deq_valid_q && deq_old_q && cst_q == C_WAIT && cmd_q == CMD_ABORT_PASID
                             && deq_pasid_valid && deq_pasid == cmd_pasid_q;

    // ------------------------------------------------------------------ state
    always_ff @(posedge clk) begin
        if (rst) begin
            for (int w = 0; w < NUM_WQ; w++) begin
                state_q[w] <= ST_DISABLED;
                head_q[w]  <= '0;
                tail_q[w]  <= '0;
                count_q[w] <= '0;
                count_up_q[w] <= 16'd1;
                count_dn_q[w] <= 16'hffff;
                size_q[w]  <= '0;
                prio_q[w]  <= '0;
                pasid_q[w] <= '0;
                xfer_q[w]  <= '0;
                batch_q[w] <= '0;
            end
            dedicated_q <= '0;
            priv_q      <= '0;
            pasid_en_q  <= '0;
            dev_en_q    <= 1'b0;
            cst_q       <= C_IDLE;
            cmd_q       <= '0;
            cmd_wq_q    <= '0;
            cmd_wq_ok_q <= 1'b0;
            err_q       <= CMD_ERR_OK;
            result_q    <= '0;
            drain_all_q <= 1'b0;
            resume_q    <= '0;
            last_q      <= '0;
            deq_valid_q <= 1'b0;
            deq_wq_q    <= '0;
            for (int w = 0; w < NUM_WQ; w++) begin
                mark_q[w]    <= '0;
                mark_dn_q[w] <= 16'hffff;
            end
            deq_old_q   <= 1'b0;
            cmd_pasid_q <= '0;
        end else begin
            // Queue pointers: enqueue and dequeue may hit the same WQ in one cycle.
            for (int w = 0; w < NUM_WQ; w++) begin
                logic inc, dec;
                inc = enq_valid && 32'(enq_wq) == w;
                dec = deq_pend[w];                         // the grant of the cycle before (count_eff)
                if (inc) tail_q[w] <= (32'(tail_q[w]) == WQ_DEPTH - 1) ? '0 : tail_q[w] + 1'b1;
                if (dec) head_q[w] <= (32'(head_q[w]) == WQ_DEPTH - 1) ? '0 : head_q[w] + 1'b1;
                if (inc && !dec) begin
                    count_q[w]    <= count_up_q[w];
                    count_up_q[w] <= count_up_q[w] + 16'd1;
                    count_dn_q[w] <= count_q[w];
                end else if (dec && !inc) begin
                    count_q[w]    <= count_dn_q[w];
                    count_up_q[w] <= count_q[w];
                    count_dn_q[w] <= count_dn_q[w] - 16'd1;
                end
            end
            deq_valid_q <= deq_grant;
            if (deq_grant) begin
                deq_wq_q <= pick;
                last_q   <= pick;
            end
            // Marks: each grant from a WQ with descriptors left before its mark takes one of them (one edge
            // late, like the count: marks_done cannot see the difference, since deq_valid_q && deq_old_q
            // holds it low in that cycle, and a PASID command sets new marks only while every mark is 0).
            deq_old_q <= deq_grant && mark_q[pick] != 16'd0;
            for (int w = 0; w < NUM_WQ; w++)
                if (deq_pend[w] && mark_q[w] != 16'd0) begin
                    mark_q[w]    <= mark_dn_q[w];
                    mark_dn_q[w] <= mark_dn_q[w] - 16'd1;
                end
            if (deq_discard)      result_q   <= result_q + 16'd1;

            case (cst_q)
                C_IDLE: if (cmd_write) begin
                    cmd_q       <= cmd_code;
                    cmd_wq_q    <= WQW'(cmd_operand);
                    cmd_wq_ok_q <= 32'(cmd_operand) < NUM_WQ;
                    cmd_pasid_q <= cmd_operand;
                    err_q       <= CMD_ERR_OK;
                    result_q    <= '0;
                    cst_q       <= C_EXEC;
                end
                C_EXEC: begin
                    cst_q <= C_IDLE;
                    case (cmd_q)
                        CMD_ENABLE_DEVICE: if (dev_en_q) err_q <= CMD_ERR_DEV_ENABLED; else dev_en_q <= 1'b1;
                        CMD_DISABLE_DEVICE, CMD_DRAIN_ALL: begin
                            for (int w = 0; w < NUM_WQ; w++) if (state_q[w] == ST_ENABLED) state_q[w] <= ST_DRAINING;
                            resume_q <= '0;
                            if (cmd_q == CMD_DRAIN_ALL)
                                for (int w = 0; w < NUM_WQ; w++) resume_q[w] <= state_q[w] == ST_ENABLED;
                            drain_all_q <= 1'b1;
                            cst_q <= C_WAIT;
                        end
                        CMD_ABORT_ALL, CMD_RESET_DEVICE: begin
                            logic [15:0] total;
                            total = '0;
                            for (int w = 0; w < NUM_WQ; w++) begin
                                logic inc;
                                inc = enq_valid && 32'(enq_wq) == w;
                                total = total + count_eff[w];
                                // A descriptor enqueued in this very cycle arrived after the abort.
                                head_q[w]  <= tail_q[w];
                                count_q[w]    <= 16'(inc);
                                count_up_q[w] <= 16'(inc) + 16'd1;
                                count_dn_q[w] <= 16'(inc) - 16'd1;
                                if (cmd_q == CMD_RESET_DEVICE) state_q[w] <= ST_DISABLED;
                            end
                            result_q <= total;
                            if (cmd_q == CMD_RESET_DEVICE) begin
                                dev_en_q <= 1'b0;
                                cst_q    <= C_WAIT;      // until every handle is revoked (hdl_clear_all)
                            end
                        end
                        CMD_ENABLE_WQ: begin
                            if (!cmd_wq_ok_q)                                err_q <= CMD_ERR_WQ_INVAL;
                            else if (!dev_en_q)                              err_q <= CMD_ERR_DEV_NOT_ENABLED;
                            else if (state_q[cmd_wq_q] != ST_DISABLED)       err_q <= CMD_ERR_WQ_ENABLED;
                            else if (sw_size[32'(cmd_wq_q)*16 +: 16] == 16'd0 || 32'(sw_size[32'(cmd_wq_q)*16 +: 16]) > WQ_DEPTH)
                                                                             err_q <= CMD_ERR_WQ_SIZE;
                            else if (!sw_dedicated[cmd_wq_q] && !cfg_pasid_en) err_q <= CMD_ERR_WQ_MODE;
                            else if (!sw_dedicated[cmd_wq_q] && !sw_pasid_en[cmd_wq_q]) err_q <= CMD_ERR_WQ_PASID_EN;
                            else if (sw_bof_en[cmd_wq_q] && !HAS_BOF)                   err_q <= CMD_ERR_WQ_BOF_EN;
                            else begin
                                state_q[cmd_wq_q]     <= ST_ENABLED;
                                size_q[cmd_wq_q]      <= sw_size[32'(cmd_wq_q)*16 +: 16];
                                prio_q[cmd_wq_q]      <= sw_prio[32'(cmd_wq_q)*4 +: 4];
                                pasid_q[cmd_wq_q]     <= sw_pasid[32'(cmd_wq_q)*20 +: 20];
                                xfer_q[cmd_wq_q]      <= sw_max_xfer_shift[32'(cmd_wq_q)*5 +: 5];
                                batch_q[cmd_wq_q]     <= sw_max_batch_shift[32'(cmd_wq_q)*BSW +: BSW];
                                dedicated_q[cmd_wq_q] <= sw_dedicated[cmd_wq_q];
                                pasid_en_q[cmd_wq_q]  <= sw_pasid_en[cmd_wq_q];
                                priv_q[cmd_wq_q]      <= sw_priv[cmd_wq_q];
                            end
                        end
                        CMD_DISABLE_WQ, CMD_DRAIN_WQ: begin
                            if (!cmd_wq_ok_q)                           err_q <= CMD_ERR_WQ_INVAL;
                            else if (state_q[cmd_wq_q] != ST_ENABLED)   err_q <= CMD_ERR_WQ_NOT_ENABLED;
                            else begin
                                state_q[cmd_wq_q] <= ST_DRAINING;
                                resume_q <= '0;
                                resume_q[cmd_wq_q] <= cmd_q == CMD_DRAIN_WQ;
                                drain_all_q <= 1'b0;
                                cst_q <= C_WAIT;
                            end
                        end
                        CMD_ABORT_WQ, CMD_RESET_WQ: begin
                            if (!cmd_wq_ok_q) err_q <= CMD_ERR_WQ_INVAL;
                            else begin
                                result_q          <= count_eff[cmd_wq_q];
                                head_q[cmd_wq_q]  <= tail_q[cmd_wq_q];
                                count_q[cmd_wq_q]    <= 16'(enq_valid && enq_wq == cmd_wq_q);
                                count_up_q[cmd_wq_q] <= 16'(enq_valid && enq_wq == cmd_wq_q) + 16'd1;
                                count_dn_q[cmd_wq_q] <= 16'(enq_valid && enq_wq == cmd_wq_q) - 16'd1;
                                if (cmd_q == CMD_RESET_WQ) state_q[cmd_wq_q] <= ST_DISABLED;
                            end
                        end
                        CMD_REQUEST_INT_HANDLE, CMD_RELEASE_INT_HANDLE: begin
                            if (!hdl_operand_ok)
                                err_q <= cmd_q == CMD_REQUEST_INT_HANDLE ? CMD_ERR_INVAL_INT_IDX
                                                                         : CMD_ERR_INVAL_INT_IDX_RELEASE;
                            else if (hdl_busy)
                                cst_q <= C_EXEC;         // the table is being cleared (after a reset): wait
                            else if (cmd_q == CMD_REQUEST_INT_HANDLE)
                                result_q <= hdl_handle;  // hdl_cmd_wr grants it in this cycle
                        end
                        CMD_DRAIN_PASID, CMD_ABORT_PASID: begin
                            // No grant in this cycle (abort_now), so count_eff is exactly what was queued
                            // before; a descriptor enqueued now comes after the command.
                            for (int w = 0; w < NUM_WQ; w++) begin
                                logic [15:0] mark_new;
                                mark_new = count_eff[w];
                                mark_q[w]    <= mark_new;
                                mark_dn_q[w] <= mark_new - 16'd1;
                            end
                            cst_q <= C_WAIT;             // mark_inflight marks what the engine holds
                        end
                        default: err_q <= CMD_ERR_INVAL_CMD;
                    endcase
                end
                C_WAIT: begin
                    if (pasid_cmd) begin
                        if (marks_done) cst_q <= C_IDLE;
                    end else if (cmd_q == CMD_RESET_DEVICE) begin
                        if (!hdl_busy) cst_q <= C_IDLE;
                    end else if (drain_all_q ? all_idle : wq_idle(cmd_wq_q, count_eff[cmd_wq_q], busy_wqs)) begin
                        for (int w = 0; w < NUM_WQ; w++)
                            if (state_q[w] == ST_DRAINING) state_q[w] <= resume_q[w] ? ST_ENABLED : ST_DISABLED;
                        if (cmd_q == CMD_DISABLE_DEVICE) dev_en_q <= 1'b0;
                        cst_q <= C_IDLE;
                    end
                end
                default: cst_q <= C_IDLE;
            endcase
        end
    end

`ifndef SYNTHESIS
    // The Fmax copies against what they stand for: a write that forgot one of them shows here, in the
    // cycle after, not as a queue count or a PASID command's mark off by one much later.
    // Armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic reset_seen_q, checks_on_q;
    initial {reset_seen_q, checks_on_q} = 2'b00;
    always_ff @(posedge clk) begin
        if (rst) reset_seen_q <= 1'b1;
        checks_on_q <= reset_seen_q && !rst;
        if (checks_on_q && !rst)
            for (int w = 0; w < NUM_WQ; w++)
                assert (count_up_q[w] == count_q[w] + 16'd1 && count_dn_q[w] == count_q[w] - 16'd1
                        && mark_dn_q[w] == mark_q[w] - 16'd1)
                    else $error("imsdev_wq_mgr: WQ %0d count %0d (+1 %0d, -1 %0d) or mark %0d (-1 %0d) copies disagree",
                                w, count_q[w], count_up_q[w], count_dn_q[w], mark_q[w], mark_dn_q[w]);
    end

    // The deferred dequeue: count_eff against a count that takes each grant at once (the update before round
    // 14), and no grant in the cycle after one (which the deferral relies on).
    logic [15:0] ref_count_q [NUM_WQ];
    always_ff @(posedge clk) begin
        if (rst) begin
            for (int w = 0; w < NUM_WQ; w++) ref_count_q[w] <= '0;
        end else begin
            for (int w = 0; w < NUM_WQ; w++) begin
                logic inc, dec, abort;
                inc   = enq_valid && 32'(enq_wq) == w;
                dec   = deq_grant && 32'(pick) == w;
                abort = cst_q == C_EXEC && (cmd_q == CMD_ABORT_ALL || cmd_q == CMD_RESET_DEVICE
                        || ((cmd_q == CMD_ABORT_WQ || cmd_q == CMD_RESET_WQ) && cmd_wq_ok_q && 32'(cmd_wq_q) == w));
                ref_count_q[w] <= abort ? 16'(inc) : ref_count_q[w] + 16'(inc) - 16'(dec);
            end
        end
        if (checks_on_q && !rst) begin
            for (int w = 0; w < NUM_WQ; w++)
                assert (count_eff[w] == ref_count_q[w])
                    else $error("imsdev_wq_mgr: WQ %0d count with the pending dequeue %0d, at the grant %0d",
                                w, count_eff[w], ref_count_q[w]);
            assert (!(deq_valid_q && deq_req))
                else $error("imsdev_wq_mgr: a dequeue request in the cycle after a grant");
            for (int w = 0; w < NUM_WQ; w++)
                assert (wq_full[w] == (count_eff[w] >= size_q[w]))
                    else $error("imsdev_wq_mgr: WQ %0d full flag differs from its count", w);
        end
    end
`endif

    assign cmdsts_active = cst_q != C_IDLE;
    assign cmdsts_err    = err_q;
    assign cmdsts_result = result_q;
    assign dev_enabled   = dev_en_q;

    always_comb begin
        for (int w = 0; w < NUM_WQ; w++) begin
            wq_accepting[w] = state_q[w] == ST_ENABLED;
            // count_q includes every enqueue up to the last cycle and the portal enqueues in the cycle it
            // decides, so this is exact even for one-beat descriptors back to back.
            // count_eff >= size_q, as two compares of count_q side by side (with a dequeue pending,
            // count_q - 1 >= size_q is count_q > size_q: count_q >= 1 then), the pending dequeue only
            // selecting. Fmax: count_eff in front of the compare put the grant's register ahead of the
            // portal's accept decision (the whole design's worst path in round 14's first run); two
            // different compares, so Yosys cannot share them behind a mux of their operands again.
            wq_full[w]      = deq_pend[w] ? count_q[w] > size_q[w] : count_q[w] >= size_q[w];
            wq_pasid[w*20 +: 20]          = pasid_q[w];
            wq_max_xfer_shift[w*5 +: 5]   = xfer_q[w];
            wq_max_batch_shift[w*BSW +: BSW] = batch_q[w];
            wq_occupancy[w*16 +: 16]      = count_eff[w];
            wq_state[w*2 +: 2]            = state_q[w];
        end
    end
    assign wq_dedicated = dedicated_q;
    assign wq_priv      = priv_q;
    assign wq_pasid_en  = pasid_en_q;
    assign idle = all_idle && cst_q == C_IDLE;
endmodule

`default_nettype wire
