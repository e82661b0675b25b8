// Read tags of the DMA engine: one entry per outstanding MRd, the command failure table, completion
// timeout, and the "available data" pointer of the read buffer.
//
// Tags are handed out as a ring, in request order (alloc), and retired in the same order once done (all
// data received, or ended by an error or a timeout), one per cycle. Ring order buys three things:
//  - buffer positions are allocated in request order too, so the bytes of every retired tag plus the
//    received bytes of the oldest live tag form one contiguous run: avail_pos is its end. A request's
//    completions arrive in address order (PCIe: completions of one request return data in increasing
//    address order), so the oldest tag's data is usable before the whole request has returned.
//  - the oldest live tag is also the oldest request sent, so checking only that one for a completion
//    timeout is enough (every younger tag was sent later).
//  - a tag is never reused while an older one is live, which keeps late completions from landing in a
//    recycled tag in the common case (a late completion after a timeout still can; that is inherent).
//
// Failure table: one entry per command sequence number (SEQ_W bits), cleared when the command is taken
// in, set by the first error of any of its tags (completion status, poisoned data, timeout): the read
// side stops issuing for the command and the write side ends it with that status.
`default_nettype none

module imsdev_dma_tags #(
    parameter int TAGS        = 16,
    parameter int SEQ_W       = 4,
    parameter int PW          = 13,        // buffer position width (log2(BUF_BYTES) + 1)
    parameter int CPL_TIMEOUT = 65536,     // cycles from a MRd leaving on tx_req to its last completion
    localparam int TW         = (TAGS > 1) ? $clog2(TAGS) : 1,
    localparam int CW         = $clog2(CPL_TIMEOUT + 4 * TAGS + 1) + 1
) (
    input  wire logic              clk,
    input  wire logic              rst,

    // allocation (read request generator); alloc_tag is the tag the next allocation gets
    output      logic              full,
    output      logic [TW-1:0]     alloc_tag,
    input  wire logic              alloc_valid,
    input  wire logic [PW-1:0]     alloc_pos,      // buffer position of the request's first byte
    input  wire logic [12:0]       alloc_len,      // request bytes, 1..4096
    input  wire logic [6:0]        alloc_addr7,    // request address [6:0]
    input  wire logic [SEQ_W-1:0]  alloc_seq,
    input  wire logic [PW-1:0]     alloc_end_pos,  // the generator's next free position (after this allocation)

    // the MRd of a tag was accepted on tx_req: its timeout starts
    input  wire logic              sent_valid,
    input  wire logic [TW-1:0]     sent_tag,

    // completion lookup, registered: lk_* are the entry of the lk_tag given in the last cycle, as of this cycle
    // (the completion receiver gives the tag of the header it registers), and the update
    input  wire logic [TW-1:0]     lk_tag,
    output      logic              lk_live,        // allocated and still expecting completions
    output      logic [PW-1:0]     lk_pos,
    output      logic [12:0]       lk_rem,         // bytes still expected (request length - received)
    output      logic [12:0]       lk_rcvd,
    output      logic [6:0]        lk_la7,         // address [6:0] of the next expected byte

    input  wire logic              upd_valid,
    input  wire logic [TW-1:0]     upd_tag,
    input  wire logic [TW-1:0]     upd_tag_next,   // upd_tag after this edge
    input  wire logic [12:0]       upd_bytes,      // bytes received by this completion
    input  wire logic              upd_final,      // the request is finished (all bytes, or UR/CA)
    input  wire logic              upd_err,
    input  wire logic [3:0]        upd_err_code,

    // failure table
    input  wire logic              clr_valid,
    input  wire logic [SEQ_W-1:0]  clr_seq,
    input  wire logic [SEQ_W-1:0]  q_rd_seq,
    input  wire logic              q_rd_load,      // the read side takes a new command: q_rd_seq becomes ...
    input  wire logic [SEQ_W-1:0]  q_rd_load_seq,  // ... this at the next edge
    output      logic              q_rd_failed,    // registered like q_wr_failed, equal to fail_q[q_rd_seq]
    input  wire logic [SEQ_W-1:0]  q_wr_seq,
    input  wire logic              q_wr_load,      // the write side takes a new command: q_wr_seq becomes ...
    input  wire logic [SEQ_W-1:0]  q_wr_load_seq,  // ... this at the next edge
    output      logic              q_wr_failed,    // registered (see below), equal to fail_q[q_wr_seq]
    output      logic              q_wr_rdx,       // with q_wr_failed: the code is a read-side translation fault
    output      logic [3:0]        q_wr_code,
    output      logic              q_wr_busy,      // some tag of command q_wr_seq is still allocated

    // ATS translation faults (docs/ats_pri.md 2.6): [0] read side, [1] write side mark a command failed
    input  wire logic [1:0]        xf_valid,
    input  wire logic [1:0][SEQ_W-1:0] xf_seq,
    input  wire logic [1:0][3:0]   xf_code,
    // MRd allocated / retired, counted (free running): the invalidation's read snapshot
    output      logic [15:0]       alloc_count,
    output      logic [15:0]       retire_count,

    output      logic [PW-1:0]     avail_pos,
    output      logic [PW-1:0]     avail_base,     // avail_pos after this edge is avail_base + avail_add
    output      logic [PW-1:0]     avail_add,
    output      logic              timeout_pulse
);
    import imsdev_dma_pkg::*;

    localparam int NSEQ = 1 << SEQ_W;

    initial begin
        if (TAGS < 2 || TAGS > 256 || (TAGS & (TAGS - 1)) != 0)
            $fatal(1, "imsdev_dma_tags: TAGS (%0d) must be a power of two, 2..256", TAGS);
        if (CPL_TIMEOUT < 16) $fatal(1, "imsdev_dma_tags: CPL_TIMEOUT (%0d) must be at least 16", CPL_TIMEOUT);
    end

    logic [TAGS-1:0]  valid_q, done_q, sent_q;
    logic [SEQ_W-1:0] seq_q   [TAGS];
    logic [PW-1:0]    pos_q   [TAGS];
    // rem_q and la7_q are kept per tag as the completion checks use them (length - received, address [6:0] +
    // received), updated with rcvd_q: the checks compare them with a completion's fields without an adder
    // behind the table read (Fmax, the completion receiver's drop decision; simulation check below).
    // rem_q, rcvd_q and la7_q are packed arrays (flip-flops), not unpacked ones: Yosys infers a memory from an
    // unpacked array and then folds the registered completion lookup (lk_rem / lk_rcvd / lk_la7 below) into
    // that memory's read port, turning it back into an address register in front of the table read (its log:
    // "merging output FF to cell", "Extracted addr FF"), so the lookup was not registered in the netlist (Fmax:
    // the receiver's drop decision, 21 levels). They were mapped to flip-flops anyway, so this costs nothing.
    logic [TAGS-1:0][12:0] rem_q;
    logic [TAGS-1:0][12:0] rcvd_q;
    logic [PW-1:0]    endp_q  [TAGS];       // pos_q + rcvd_q: end of the tag's received bytes
    logic [TAGS-1:0][6:0]  la7_q;
    logic [CW-1:0]    ts_q    [TAGS];
    logic [TW:0]      head_q, tail_q;
    logic [CW-1:0]    now_q;
    logic [NSEQ-1:0]  fail_q;
    logic [3:0]       code_q  [NSEQ];

    wire [TW-1:0] tail = tail_q[TW-1:0];
    wire          empty = head_q == tail_q;

    assign full      = (head_q ^ tail_q) == {1'b1, {TW{1'b0}}};
    assign alloc_tag = head_q[TW-1:0];


    // Translation faults are written into the failure table one cycle late, from registers (Fmax: the DMA
    // sides' fault decisions ran through the 1-of-NSEQ decode into the enables of every fail_q / code_q
    // entry, the worst path of the DMA engine alone). xp_* hold last cycle's faults; xp_cw_q says the command had
    // not failed before (its code is then the fault's, overriding any other error of the cycle that writes
    // it, which came later in the old order). fail_eff / code_eff are the table as if they had been
    // written at once, which every reader sees: the outputs are as before (simulation check against a
    // table written at once, below).
    // xp_v_q sets the failure bit (not in reset, which clears the table); xp_cw_q writes the code, also for a
    // fault in a reset cycle (the code table is not reset: its codes were always written, as before).
    // Slot 2 holds last cycle's completion error the same way (Fmax: the tag's sequence number, its failure
    // bit and the decode ran into the enables of every code_q entry, the deepest cone of the DMA engine after
    // round 10). Slots are applied in the order 2, 0, 1: a completion error was written before the same
    // cycle's translation faults.
    localparam int XP = 3;
    localparam int XP_ORDER [XP] = '{2, 0, 1};
    logic [XP-1:0]            xp_v_q, xp_cw_q;
    logic [XP-1:0][SEQ_W-1:0] xp_seq_q;
    logic [XP-1:0][3:0]       xp_code_q;
    function automatic logic fail_eff(input logic [SEQ_W-1:0] s);
        logic f;
        f = fail_q[s];
        for (int x = 0; x < XP; x++)
            if (xp_v_q[x] && xp_seq_q[x] == s) f = 1'b1;
        return f;
    endfunction
    function automatic logic [3:0] code_eff(input logic [SEQ_W-1:0] s);
        logic [3:0] c;
        c = code_q[s];
        for (int i = 0; i < XP; i++)
            if (xp_cw_q[XP_ORDER[i]] && xp_seq_q[XP_ORDER[i]] == s) c = xp_code_q[XP_ORDER[i]];
        return c;
    endfunction
    wire [SEQ_W-1:0] upd_seq = seq_q[upd_tag];
    wire             upd_e   = upd_ok && upd_err;
    always_ff @(posedge clk) begin
        for (int x = 0; x < 2; x++) begin
            xp_v_q[x]    <= xf_valid[x] && !rst;
            xp_cw_q[x]   <= xf_valid[x] && !fail_eff(xf_seq[x]);      // the command's first error
            xp_seq_q[x]  <= xf_seq[x];
            xp_code_q[x] <= xf_code[x];
        end
        xp_v_q[2]    <= upd_e && !rst;
        xp_cw_q[2]   <= upd_e && !fail_eff(upd_seq);
        xp_seq_q[2]  <= upd_seq;
        xp_code_q[2] <= upd_err_code;
    end

    always_comb q_wr_code = code_eff(q_wr_seq);

    // With no live tag every allocated position holds data; otherwise data runs up to the oldest tag's
    // received bytes (everything older is retired, and younger tags are behind it).
    // alloc_end_pos comes from the generator's register, updated in the same cycle as head_q.
    // avail_pos is registered, so the write engine's planning starts at a flip-flop. It takes the oldest
    // tag's update of this cycle into account (the update's bytes were written into the buffer at the same
    // edge), so data is available to the write engine in the cycle after its tag update, as when avail_pos
    // was combinational; the per-tag end position (endp_q, pos + rcvd kept as one register) keeps the path
    // one adder deep. It only grows: after the oldest tag retires, the next one starts where it ended. The
    // write engine ends a failed command only once no tag of it is allocated, a cycle after which avail_pos
    // is already past the command's end position.
    wire upd_ok = upd_valid && valid_q[upd_tag] && !done_q[upd_tag];
    // "This cycle's update is for the oldest tag" from flip-flops (Fmax, round 17: upd_tag's compare with
    // tail and the table reads valid_q / done_q[upd_tag] headed the whole design's worst path on all three
    // seeds at faa9ec3, the completion's tag update -> avail_add -> the write engine's registered buffer
    // check). upd_at_tail_q compares the update tag and the tail as the edge leaves them (upd_tag_next, tail
    // + retire). The update is then for a live tag (imsdev_dma_cpl judges a completion live at its first
    // beat, and a final update in flight makes the tag not live), except when the tag timed out between that
    // first beat and the update at its last one: a timeout is only ever the oldest tag's, at the edge before
    // (tmo_q), and that tag retires in this cycle; its bytes do not count. So upd_at_tail equals
    // upd_ok && upd_tag == tail && !empty (checked below).
    logic upd_at_tail_q, tmo_q;
    wire  upd_at_tail = upd_valid && upd_at_tail_q && !tmo_q;
    // (avail_base + avail_add: for the write engine's registered buffer check, which is loaded with the check
    // against the position avail_pos takes at this edge, and adds the two inside its own carry-save sum)
    assign avail_base = empty ? alloc_end_pos : endp_q[tail];
    assign avail_add  = upd_at_tail ? PW'(upd_bytes) : '0;
    always_ff @(posedge clk) begin
        if (rst) avail_pos <= '0;
        else     avail_pos <= PW'(avail_base + avail_add);
    end

    // Completion timeout of the oldest tag. An update of that tag in the same cycle wins.
    wire tmo = !empty && !done_q[tail] && sent_q[tail] && (CW'(now_q - ts_q[tail]) >= CW'(CPL_TIMEOUT))
               && !upd_at_tail;
    wire retire = !empty && done_q[tail];
    wire [TW-1:0] tail_p1 = tail + 1'b1;
    always_ff @(posedge clk) begin
        upd_at_tail_q <= retire ? upd_tag_next == tail_p1 : upd_tag_next == tail;
        tmo_q         <= tmo && !rst;
    end
    assign timeout_pulse = tmo;

    // The update's new values (written below, and forwarded into the registered lookup)
    wire [12:0]   upd_rcvd_n = rcvd_q[upd_tag] + upd_bytes;
    wire [12:0]   upd_rem_n  = rem_q[upd_tag] - upd_bytes;
    wire [6:0]    upd_la7_n  = la7_q[upd_tag] + upd_bytes[6:0];

    // Completion lookup, registered (Fmax: the table read by the completion's tag headed the receiver's
    // drop / buffer-write decision). Exact, not a cycle late: the registers take entry lk_tag's value after
    // this edge, by the same rules as the table update below (allocation, the update, timeout, retirement,
    // reset), so lk_* equal a combinational read of the table by last cycle's lk_tag. Simulation check below.
    logic        lk_v_n, lk_d_n;
    logic [PW-1:0] lk_pos_n;
    logic [12:0] lk_rem_n, lk_rcvd_n;
    logic [6:0]  lk_la7_n;
    always_comb begin
        lk_v_n    = valid_q[lk_tag];
        lk_d_n    = done_q[lk_tag];
        lk_pos_n  = pos_q[lk_tag];
        lk_rem_n  = rem_q[lk_tag];
        lk_rcvd_n = rcvd_q[lk_tag];
        lk_la7_n  = la7_q[lk_tag];
        if (alloc_valid && alloc_tag == lk_tag) begin
            lk_pos_n  = alloc_pos;
            lk_rem_n  = alloc_len;
            lk_la7_n  = alloc_addr7;
            lk_rcvd_n = '0;
        end
        if (upd_ok && upd_tag == lk_tag) begin
            lk_rcvd_n = upd_rcvd_n;
            lk_rem_n  = upd_rem_n;
            lk_la7_n  = upd_la7_n;
        end
        if (rst) begin
            lk_v_n = 1'b0;
            lk_d_n = 1'b0;
        end else begin
            if (alloc_valid && alloc_tag == lk_tag) begin
                lk_v_n = 1'b1;
                lk_d_n = 1'b0;
            end
            if (upd_ok && upd_final && upd_tag == lk_tag) lk_d_n = 1'b1;
            if (tmo && tail == lk_tag) lk_d_n = 1'b1;
            if (retire && tail == lk_tag) lk_v_n = 1'b0;
        end
    end
    always_ff @(posedge clk) begin
        lk_live <= lk_v_n && !lk_d_n;
        lk_pos  <= lk_pos_n;
        lk_rem  <= lk_rem_n;
        lk_rcvd <= lk_rcvd_n;
        lk_la7  <= lk_la7_n;
    end

    // "some tag of command q_wr_seq is allocated", registered (Fmax: the compare of every tag's sequence number
    // ran into the write engine's abort / command-end decision). Exact like q_wr_failed below: the register
    // takes the value after the edge, for both candidates of q_wr_seq side by side (q_wr_load picks one), from
    // the tags as the edge leaves them: the retired tail gone, an allocated tag added (the allocated slot is a
    // free one: alloc_valid only when not full). Simulation check against the table below.
    logic       q_wr_busy_q;
    logic [1:0] wr_busy_n;
    always_comb begin
        for (int k = 0; k < 2; k++) begin
            logic [SEQ_W-1:0] s;
            s = (k == 0) ? q_wr_seq : q_wr_load_seq;
            wr_busy_n[k] = alloc_valid && alloc_seq == s;
            for (int t = 0; t < TAGS; t++)
                if (valid_q[t] && !(retire && tail == TW'(t)) && seq_q[t] == s) wr_busy_n[k] = 1'b1;
        end
    end
    always_ff @(posedge clk) begin
        if (rst) q_wr_busy_q <= 1'b0;
        else     q_wr_busy_q <= q_wr_load ? wr_busy_n[1] : wr_busy_n[0];
    end
    assign q_wr_busy = q_wr_busy_q;

    // The write side's failure lookup, registered (Fmax: the 1-of-NSEQ read of the table and the code's compare
    // were the head of the write engine's start / command-end path, the worst path of the small configuration
    // on ECP5). It is exact, not a cycle late: the register takes the table entry's next value (same rules as
    // the table update below) for the sequence number q_wr_seq has after the edge, which is q_wr_load_seq
    // when the write side takes a command (q_wr_load) and q_wr_seq otherwise. Both candidates are computed
    // beside each other, so q_wr_load (the end of the write engine's decisions) only picks one.
    function automatic logic rd_xl(input logic [3:0] c);
        return c == DMA_XL_READ_FAULT || c == DMA_XL_FAIL_RD || c == DMA_XL_READ_FAULT_IR;
    endfunction
    // The read side's lookup (q_rd_failed) is registered the same way (Fmax: the table read ran into the
    // read request generator's issue / abort / load decision, the deepest cones after round 11): candidates 2
    // and 3 are q_rd_seq and q_rd_load_seq, picked by q_rd_load. Only the failure bit is needed there.
    logic [3:0] failed_n, rdx_n;
    wire  [1:0] wr_failed_n = failed_n[1:0];
    wire  [1:0] wr_rdx_n    = rdx_n[1:0];
    always_comb begin
        for (int k = 0; k < 4; k++) begin
            logic [SEQ_W-1:0] s;
            logic             set;
            logic [3:0]       code;
            case (k)
                0:       s = q_wr_seq;
                1:       s = q_wr_load_seq;
                2:       s = q_rd_seq;
                default: s = q_rd_load_seq;
            endcase
            set  = 1'b0;
            code = code_eff(s);
            // the first error of a command is kept; among errors in one cycle the last below wins, as in the table
            if (tmo && seq_q[tail] == s) begin
                set = 1'b1;
                if (!fail_eff(s)) code = DMA_READ_TIMEOUT;
            end
            if (upd_ok && upd_err && seq_q[upd_tag] == s) begin
                set = 1'b1;
                if (!fail_eff(s)) code = upd_err_code;
            end
            for (int x = 0; x < 2; x++)
                if (xf_valid[x] && xf_seq[x] == s) begin
                    set = 1'b1;
                    if (!fail_eff(s)) code = xf_code[x];
                end
            failed_n[k] = set || (fail_eff(s) && !(clr_valid && clr_seq == s));
            rdx_n[k]    = rd_xl(code);
        end
    end
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_rd_rdx = &{1'b0, rdx_n[3:2]};   // the read side needs only the failure bit
    /* verilator lint_on UNUSEDSIGNAL */
    always_ff @(posedge clk) begin
        if (rst) begin
            q_wr_failed <= 1'b0;
            q_rd_failed <= 1'b0;
        end else begin
            q_wr_failed <= q_wr_load ? wr_failed_n[1] : wr_failed_n[0];
            q_rd_failed <= q_rd_load ? failed_n[3] : failed_n[2];
        end
        q_wr_rdx <= q_wr_load ? wr_rdx_n[1] : wr_rdx_n[0];
    end

    always_ff @(posedge clk) begin
        now_q <= now_q + 1'b1;
        if (alloc_valid) begin
            seq_q[alloc_tag]   <= alloc_seq;
            pos_q[alloc_tag]   <= alloc_pos;
            rem_q[alloc_tag]   <= alloc_len;
            la7_q[alloc_tag]   <= alloc_addr7;
            rcvd_q[alloc_tag]  <= '0;
            endp_q[alloc_tag]  <= alloc_pos;
        end
        if (sent_valid) ts_q[sent_tag] <= now_q;
        if (upd_ok) begin
            rcvd_q[upd_tag] <= upd_rcvd_n;
            rem_q[upd_tag]  <= upd_rem_n;
            la7_q[upd_tag]  <= upd_la7_n;
            endp_q[upd_tag] <= endp_q[upd_tag] + PW'(upd_bytes);
        end

        // Failure table: the first error of a command is kept. A timeout and a completion error in the
        // same cycle always belong to two different tags; if they are the same command the completion's
        // code is kept.
        // (last cycle's translation faults last: they came after every error of this cycle). A command counts
        // as failed with last cycle's faults included (fail_eff): a fault on an already failed command in the
        // cycle of its clear leaves it failed, though fail_q was cleared at that edge (found in review).
        if (tmo && !fail_eff(seq_q[tail])) code_q[seq_q[tail]] <= DMA_READ_TIMEOUT;
        for (int i = 0; i < XP; i++)
            if (xp_cw_q[XP_ORDER[i]]) code_q[xp_seq_q[XP_ORDER[i]]] <= xp_code_q[XP_ORDER[i]];

        if (rst) begin
            valid_q <= '0;
            done_q  <= '0;
            sent_q  <= '0;
            head_q  <= '0;
            tail_q  <= '0;
            fail_q  <= '0;
            now_q   <= '0;
            alloc_count  <= '0;
            retire_count <= '0;
        end else begin
            if (alloc_valid) begin
                valid_q[alloc_tag] <= 1'b1;
                done_q[alloc_tag]  <= 1'b0;
                sent_q[alloc_tag]  <= 1'b0;
                head_q <= head_q + 1'b1;
            end
            if (sent_valid) sent_q[sent_tag] <= 1'b1;
            if (upd_ok && upd_final) done_q[upd_tag] <= 1'b1;
            if (tmo) done_q[tail] <= 1'b1;
            if (retire) begin
                valid_q[tail] <= 1'b0;
                tail_q <= tail_q + 1'b1;
            end
            // last cycle's translation faults before this cycle's clear (it came after them), this cycle's
            // other errors after it (as before: an error in the cycle of the clear is kept)
            for (int x = 0; x < XP; x++)
                if (xp_v_q[x]) fail_q[xp_seq_q[x]] <= 1'b1;
            if (clr_valid) fail_q[clr_seq] <= 1'b0;
            if (tmo) fail_q[seq_q[tail]] <= 1'b1;
            if (alloc_valid) alloc_count  <= alloc_count + 16'd1;
            if (retire)      retire_count <= retire_count + 16'd1;
        end
    end

`ifndef SYNTHESIS
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic reset_seen_q, checks_on_q;
    initial {reset_seen_q, checks_on_q} = 2'b00;
    always_ff @(posedge clk) begin
        if (rst) reset_seen_q <= 1'b1;
        checks_on_q <= reset_seen_q && !rst;
    end
    // rem_q / la7_q against the request's length and address [6:0] as allocated (kept here only) and rcvd_q
    logic [12:0] len_sim_q   [TAGS];
    logic [6:0]  addr7_sim_q [TAGS];
    always_ff @(posedge clk) begin
        if (alloc_valid) begin
            len_sim_q[alloc_tag]   <= alloc_len;
            addr7_sim_q[alloc_tag] <= alloc_addr7;
        end
    end
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst)
            for (int t = 0; t < TAGS; t++)
                if (valid_q[t])
                    assert (rem_q[t] == len_sim_q[t] - rcvd_q[t] && la7_q[t] == addr7_sim_q[t] + rcvd_q[t][6:0])
                        else $error("imsdev_dma_tags: tag %0d remaining %0d / la7 %0d differ from length %0d, address %0d, received %0d",
                                    t, rem_q[t], la7_q[t], len_sim_q[t], addr7_sim_q[t], rcvd_q[t]);
    end
    // An update for a tag that has already ended (what upd_ok's !done_q[upd_tag] refuses) comes only when the
    // tag timed out between its completion's acceptance (imsdev_dma_cpl judges a completion live at its first
    // beat, and a final update of the same tag in flight makes it not live) and the update at its last beat:
    // a timeout is only ever the oldest tag's, so that tag retires in this very cycle and its counts are not
    // read again. (This is why the mutant dma.tags_late_cpl_counted is documented as equivalent.)
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && upd_valid && valid_q[upd_tag] && done_q[upd_tag])
            assert (retire && tail == upd_tag)
                else $error("imsdev_dma_tags: update of tag %0d, which ended earlier and is not retiring now", upd_tag);
    end
    // The registered "update of the oldest tag" is the compare with the table (the update of a live tag)
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst)
            assert (upd_at_tail == (upd_ok && upd_tag == tail && !empty))
                else $error("imsdev_dma_tags: registered update-at-tail %0b differs from the table (update %0b of tag %0d, tail %0d, empty %0b, valid %0b, done %0b)",
                            upd_at_tail, upd_valid, upd_tag, tail, empty, valid_q[upd_tag], done_q[upd_tag]);
    end
    // The registered completion lookup is the table's entry of last cycle's lk_tag
    logic [TW-1:0] lk_tag_sim_q;
    always_ff @(posedge clk) lk_tag_sim_q <= lk_tag;
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst)
            assert (lk_live == (valid_q[lk_tag_sim_q] && !done_q[lk_tag_sim_q]) && lk_pos == pos_q[lk_tag_sim_q]
                    && lk_rem == rem_q[lk_tag_sim_q] && lk_rcvd == rcvd_q[lk_tag_sim_q] && lk_la7 == la7_q[lk_tag_sim_q])
                else $error("imsdev_dma_tags: registered completion lookup differs from the table's entry %0d", lk_tag_sim_q);
    end
    // q_wr_busy_q is the table's "a tag of q_wr_seq is allocated"
    logic busy_now;
    always_comb begin
        busy_now = 1'b0;
        for (int t = 0; t < TAGS; t++)
            if (valid_q[t] && seq_q[t] == q_wr_seq) busy_now = 1'b1;
    end
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst)
            assert (q_wr_busy_q == busy_now) else $error("imsdev_dma_tags: registered write-side busy differs from the table");
    end
    // The registered lookup equals the table's entry for q_wr_seq (the write side loads q_wr_seq from
    // q_wr_load_seq exactly when it raises q_wr_load). Checks run from the second clock edge after reset.
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst)
            assert (q_wr_failed == fail_eff(q_wr_seq) && (!q_wr_failed || q_wr_rdx == rd_xl(code_eff(q_wr_seq))))
                else $error("imsdev_dma_tags: registered write-side failure lookup differs from the table");
        if (checks_on_q && !rst)
            assert (q_rd_failed == fail_eff(q_rd_seq))
                else $error("imsdev_dma_tags: registered read-side failure lookup differs from the table");
    end
    // The table with translation faults written one cycle late, as every reader sees it (fail_eff / code_eff),
    // equals a table written at once by the old rules (ref_*), on every command that has failed.
    logic [NSEQ-1:0] ref_fail_q;
    logic [3:0]      ref_code_q [NSEQ];
    always_ff @(posedge clk) begin
        if (tmo && !ref_fail_q[seq_q[tail]]) ref_code_q[seq_q[tail]] <= DMA_READ_TIMEOUT;
        if (upd_ok && upd_err && !ref_fail_q[seq_q[upd_tag]]) ref_code_q[seq_q[upd_tag]] <= upd_err_code;
        for (int x = 0; x < 2; x++)
            if (xf_valid[x] && !ref_fail_q[xf_seq[x]]) ref_code_q[xf_seq[x]] <= xf_code[x];
        if (rst) ref_fail_q <= '0;
        else begin
            if (clr_valid) ref_fail_q[clr_seq] <= 1'b0;
            if (tmo) ref_fail_q[seq_q[tail]] <= 1'b1;
            if (upd_ok && upd_err) ref_fail_q[seq_q[upd_tag]] <= 1'b1;
            for (int x = 0; x < 2; x++)
                if (xf_valid[x]) ref_fail_q[xf_seq[x]] <= 1'b1;
        end
    end
    // Simulation time: with no failure bit in the table, none on its way in (xp_v_q) and none in the
    // reference, fail_eff is 0 for every command and every comparison of the loop holds, so the loop runs
    // only when one of the three has a bit set.
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && (|fail_q || |xp_v_q || |ref_fail_q))
            for (int q = 0; q < NSEQ; q++)
                assert (fail_eff(SEQ_W'(q)) == ref_fail_q[q] && (!ref_fail_q[q] || code_eff(SEQ_W'(q)) == ref_code_q[q]))
                    else $error("imsdev_dma_tags: command %0d failed %0b code %0d, written at once %0b code %0d",
                                q, fail_eff(SEQ_W'(q)), code_eff(SEQ_W'(q)), ref_fail_q[q], ref_code_q[q]);
    end
`endif
endmodule

`default_nettype wire
