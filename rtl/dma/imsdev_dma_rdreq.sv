// Read request generator of the DMA engine: turns each COPY command into MRd TLPs.
//
// Requests are cut at multiples of RD_SIZE = min(Max_Read_Request_Size, RD_CAP) of the source address, so
// none exceeds MRRS or crosses a 4 KiB boundary (RD_SIZE divides 4096). RD_CAP (a quarter of the read
// buffer, at most 4 KiB) keeps several requests in flight even when MRRS is large.
// A request is issued (tag and buffer space allocated, MRd queued for tx_req) when a tag is free,
// the buffer has room for its bytes, and the command has not failed. Once a command has failed the
// generator stops issuing for it. Either way, when it is done with a command it pushes the command's end
// position (the next free buffer position) to the write engine, which uses it to skip what a failed
// command left in the buffer.
// ATS (docs/ats_pri.md 2.2): a command with a PASID, not ATS-disabled, while ats_on, is translated per
// request: the page of the request's first byte (a request never crosses 4 KiB) is looked up in the ATC
// (lk_*); a hit with R gives the MRd the translated address and AT = 10b; otherwise the request waits and asks
// the translation requester (xl_req). A DENIED or FAILED answer for that page fails the command (xf_*) with
// DMA_XL_READ_FAULT / DMA_XL_FAIL_RD: from then on it ends like a command whose read failed.
// Block-on-Fault (docs/ats_pri.md 2.6): a DENIED page of a command with cmd_bof asks imsdev_pri for the page
// (pr_req, held until pr_done) and the generator stalls meanwhile (no request, no abort). Success: the page is
// translated again (ATC lookup, Translation Request); at most PRI_RETRIES page requests per page, then the
// denial ends the command as without BOF. Invalid Request: DMA_XL_READ_FAULT_IR; Response Failure, PRI reset or
// PRI unusable: DMA_XL_READ_FAULT (as without BOF).
`default_nettype none

module imsdev_dma_rdreq #(
    parameter int BUF_BYTES = 4096,
    parameter int TAGS      = 16,
    parameter int SEQ_W     = 4,
    localparam int PW       = $clog2(BUF_BYTES) + 1,   // buffer positions (one more bit than an index)
    localparam int TW       = (TAGS > 1) ? $clog2(TAGS) : 1,
    localparam int RD_CAP   = (BUF_BYTES / 4 < 4096) ? BUF_BYTES / 4 : 4096,
    localparam int RD_CAP_LG = $clog2(RD_CAP)
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,
    input  wire logic [2:0]        cfg_max_read_req,

    // COPY commands (length > 0), in command order
    input  wire logic              cmd_valid,
    output      logic              cmd_ready,
    input  wire logic [63:0]       cmd_src,
    input  wire logic [31:0]       cmd_len,
    input  wire logic              cmd_pasid_valid,
    input  wire logic [19:0]       cmd_pasid,
    input  wire logic              cmd_priv,
    input  wire logic [SEQ_W-1:0]  cmd_seq,
    input  wire logic              cmd_no_ats,
    input  wire logic              cmd_bof,        // Block-on-Fault (descriptor flag and WQ permit it)
    // the generator takes its next command at this edge (its sequence number becomes fail_q_seq): for
    // imsdev_dma_tags' registered lookup (q_rd_load / q_rd_load_seq)
    output      logic              cur_load,
    output      logic [SEQ_W-1:0]  cur_load_seq,

    // ATS (tied off when the build has no ATC)
    input  wire logic              ats_on,
    output      logic [19:0]       lk_pasid,
    output      logic              lk_priv,
    output      logic [51:0]       lk_page,
    input  wire logic              lk_hit,
    input  wire logic              lk_r,
    input  wire logic [51:0]       lk_pa,
    input  wire logic              lk_stale,
    output      logic              xl_req,
    input  wire logic              xl_done,
    input  wire logic [1:0]        xl_res,
    input  wire logic [19:0]       xl_pasid,
    input  wire logic              xl_priv,
    input  wire logic [51:0]       xl_page,
    output      logic              xf_valid,
    output      logic [3:0]        xf_code,
    output      logic              pr_req,         // page request wanted for lk_page (imsdev_pri, slot 0)
    input  wire logic              pr_done,
    input  wire logic [1:0]        pr_res,         // imsdev_ats_pkg::PR_*

    // tags and failure table
    input  wire logic              tags_full,
    input  wire logic [TW-1:0]     tags_alloc_tag,
    output      logic              tags_alloc_valid,
    output      logic [PW-1:0]     tags_alloc_pos,
    output      logic [12:0]       tags_alloc_len,
    output      logic [6:0]        tags_alloc_addr7,
    output      logic [SEQ_W-1:0]  tags_alloc_seq,    // the command's (the FIFO head has moved on)
    output      logic [PW-1:0]     alloc_end_pos,
    output      logic [SEQ_W-1:0]  fail_q_seq,
    input  wire logic              fail_q_failed,

    // buffer space: the write engine's next position to consume; positions below free_pos + BUF_BYTES
    // may be allocated.
    input  wire logic [PW-1:0]     free_pos,

    // end positions for the write engine, one per COPY command
    output      logic              end_valid,
    input  wire logic              end_ready,
    output      logic [PW-1:0]     end_pos,

    // MRd to send (one beat)
    output      logic              mrd_valid,
    input  wire logic              mrd_ready,
    output      logic [127:0]      mrd_hdr_o,
    output      logic              mrd_prfx_valid,
    output      logic [31:0]       mrd_prfx,
    output      logic [TW-1:0]     mrd_tag
);
    import imsdev_tlp_pkg::*;

    initial begin
        if (RD_CAP < 128) $fatal(1, "imsdev_dma_rdreq: BUF_BYTES (%0d) must be at least 512", BUF_BYTES);
    end

    // The head of the command FIFO is copied into registers (nxt_*, below) and popped as soon as that slot is
    // free; the next command is taken from there (into cur_*) in the cycle the current one is done, so request
    // planning starts at flip-flops, and so do the values the load gives the running registers (RD_SIZE, the
    // first to-boundary distance, rem_small / n_is_rem / last / c4k, the stepped address and length). Fmax:
    // the load decision, the end of the issue path, selected the FIFO's LUT-RAM read and the compares behind
    // it (yosys shares the compares of the load and the per-request update behind one mux: the round-9 cones
    // free_pos -> room -> issue -> done -> u_rcmd read -> last / n_is_rem / key_chg_q / r_hi_dec_q).
    // Latency (deliberate, round 9): a command reaching an idle generator is taken two cycles after it
    // reaches the FIFO head (FIFO -> nxt -> cur) instead of one, and one reaching the head in the very cycle
    // the current command is done is taken one cycle after that; a command queued behind a running one is in
    // nxt_* by then (checked below), so commands still follow back to back.
    // Source address and remaining length are running registers advanced at each request. A request never
    // crosses 4 KiB, so the address's bits 63:12 only step by one (a_hi_inc_q) and the length's bits 31:13
    // by minus one (r_hi_dec_q). RD_SIZE is taken with the command (MRRS when the command is taken; software
    // changes it only with no traffic) and so is the distance to the first RD_SIZE boundary (tb_q): every
    // later request of the command starts on a boundary.
    logic             cur_valid_q;
    logic [SEQ_W-1:0] cur_seq_q;
    logic             cur_pasid_valid_q;
    logic [31:0]      cur_prfx_q;
    logic [51:0]      a_hi_q, a_hi_inc_q;   // source of the next request, bits 63:12 (and that + 1)
    logic [11:0]      a_lo_q;               // ... bits 11:0
    logic [18:0]      r_hi_q, r_hi_dec_q;   // bytes not yet requested, bits 31:13 (and that - 1)
    logic [12:0]      r_lo_q;               // ... bits 12:0
    logic [12:0]      rd_size_q;            // RD_SIZE of the command
    logic [12:0]      tb_q;                 // bytes from the next request's address to an RD_SIZE boundary
    logic [PW-1:0]    alloc_q;              // next buffer position to allocate

    // Request size: up to the next multiple of RD_SIZE of the address, and at most what is left.
    logic [2:0]  mrrs_lg;        // log2(RD_SIZE) - 7
    always_comb begin
        mrrs_lg = (cfg_max_read_req > 3'd5) ? 3'd5 : cfg_max_read_req;
        if (32'(mrrs_lg) + 7 > RD_CAP_LG) mrrs_lg = 3'(RD_CAP_LG - 7);
    end
    wire [12:0] cfg_rd_size  = 13'd128 << mrrs_lg;
    wire [12:0] cmd_to_bound = cfg_rd_size - 13'(cmd_src[11:0] & 12'(cfg_rd_size - 13'd1));

    // The next command (the FIFO head copied ahead) with the values the load gives the running registers.
    logic             nxt_valid_q;
    logic [SEQ_W-1:0] nxt_seq_q;
    logic             nxt_ats_q, nxt_bof_q, nxt_pasid_valid_q;
    logic [31:0]      nxt_prfx_q;
    logic [51:0]      nxt_a_hi_q, nxt_a_hi_inc_q;
    logic [11:0]      nxt_a_lo_q;
    logic [18:0]      nxt_r_hi_q, nxt_r_hi_dec_q;
    logic [12:0]      nxt_r_lo_q;
    logic [12:0]      nxt_rd_size_q, nxt_tb_q;
    logic             nxt_rem_small_q, nxt_n_is_rem_q, nxt_last_q, nxt_c4k_q;

    wire [63:0] addr      = {a_hi_q, a_lo_q};
    // rem_small, n_is_rem, last and the 4 KiB carry of a request from flip-flops (Fmax: their compares are off
    // the issue / load path), loaded with their next values wherever r_*, tb_q, a_lo_q change (a simulation
    // check compares them with their definitions every cycle):
    //   rem_small_q = r_hi_q == 0 (what is left is below 8 KiB: r_lo_q); n_is_rem_q = rem_small && r_lo_q <
    //   tb_q; last_q = rem_small && r_lo_q <= tb_q; c4k_q = a_lo_q + tb_q reaches 4 KiB (a tb_q request ends
    //   on a 4 KiB boundary; a shorter one, n_is_rem, never does: a_lo_q + tb_q <= 4096).
    logic       rem_small_q, n_is_rem_q, last_q, c4k_q;
    wire        n_is_rem  = n_is_rem_q;
    wire [12:0] n         = n_is_rem ? r_lo_q : tb_q;
    wire        last      = last_q;

    // Free buffer bytes, free_pos + BUF_BYTES - alloc_q (adding BUF_BYTES flips the top position bit);
    // n fits: both candidates of n are compared side by side.
    wire [PW-1:0] space   = {~free_pos[PW-1], free_pos[PW-2:0]} - alloc_q;
    // (each candidate as one carry chain: free_pos + BUF_BYTES - alloc_q - n as a carry-save sum and one adder,
    // its sign bit; exact while -2^(PW-1) <= space - n < 2^(PW-1): space <= BUF_BYTES = 2^(PW-1) and n, when
    // used, 1 .. RD_CAP <= BUF_BYTES / 2; checked below against the compare)
    wire [PW-1:0] free_top = {~free_pos[PW-1], free_pos[PW-2:0]};
    logic       fits_rem, fits_tb;
    imsdev_dma_fits #(.W(PW)) u_fits_rem (.a(free_top), .b(alloc_q), .c(PW'(r_lo_q)), .fits(fits_rem));
    imsdev_dma_fits #(.W(PW)) u_fits_tb  (.a(free_top), .b(alloc_q), .c(PW'(tb_q)),   .fits(fits_tb));
    wire        room_now  = n_is_rem ? fits_rem : fits_tb;
    // The room the issue decision uses is a flip-flop, room_q, loaded at each edge with the check for the
    // request after it (Fmax, round 16: the check's carry chain headed the whole design's worst path with
    // seed 1 after round 16's credit change, room -> issue -> done -> load -> the running registers). Its next
    // value from flip-flops, selected by issue and load last:
    //   neither: this cycle's check (room_now);
    //   load only: the next command's first request (n_nxt) against the same allocation;
    //   issue and load: that request behind this one (n + n_nxt);
    //   issue only: this request plus a whole RD_SIZE (n + rd_size_q) in place of the next request's size,
    //   which needs the remaining length after this request (at most RD_SIZE: conservative).
    // free_pos is the one of the cycle before: the free room only grows with it, so room_q never claims
    // room that is not there (checked below), and a request waits at most a cycle for room just freed or,
    // after an issue, for the exact size. No deadlock from the RD_SIZE bound: while the write engine waits
    // for bytes the buffer holds less than a write TLP (at most half of it), so RD_SIZE (a quarter) is free.
    wire [12:0] n_nxt     = nxt_n_is_rem_q ? nxt_r_lo_q : nxt_tb_q;
    logic       fits_ld, fits_il, fits_is, room_q;
    imsdev_dma_fits #(.W(PW)) u_fits_ld (.a(free_top), .b(alloc_q), .c(PW'(n_nxt)), .fits(fits_ld));
    imsdev_dma_fits #(.W(PW)) u_fits_il (.a(free_top), .b(alloc_q), .c(PW'(n) + PW'(n_nxt)), .fits(fits_il));
    imsdev_dma_fits #(.W(PW)) u_fits_is (.a(free_top), .b(alloc_q), .c(PW'(n) + PW'(rd_size_q)), .fits(fits_is));
    wire        room      = room_q;
    logic       out_free;

    // ATS: translation of the request's page
    logic cur_ats_q;
    wire  xl_on   = cur_ats_q && ats_on;
    assign lk_pasid = cur_prfx_q[19:0];
    assign lk_priv  = cur_prfx_q[23];
    assign lk_page  = addr[63:12];
    wire  xl_hit  = lk_hit && lk_r;
    // A request is issued from last cycle's lookup (registered: the ATC's compare is off the issue path),
    // valid when neither the key (the page, the PASID: key_chg_q) nor the ATC (lk_stale) changed at the last
    // edge; else the request waits a cycle. The translation request and the acceptance of its answer use the
    // registered lookup too (as in imsdev_dma_wr: this cycle's ATC compare is off the fault path into the
    // failure table and the page request). Timing changes against this cycle's lookup: (1) a miss asks one
    // cycle later after a key or ATC change; (2) an answer is taken while the side waits for it: with a valid
    // lookup, a miss now (as before); in the cycle after an ATC change, a request made in the cycle before
    // (xl_req_q); in the cycle after a key change, not at all (the answer is for the old key).
    logic        xl_hit_q, key_chg_q, xl_req_q;
    logic [51:0] lk_pa_q;
    wire  xl_lk_ok = !key_chg_q && !lk_stale;
    wire  xl_hit_r = xl_hit_q && xl_lk_ok;
    // The answer's key compare is last cycle's (key_eq_q): the 73-bit compare is off the answer -> fault path.
    // Exact wherever xl_mine is used (under xl_wait, so !key_chg_q: this side's key did not change at the last
    // edge) and can be 1 (xl_done: the requester's slot is out, so its key did not change either: it changes
    // only when the slot takes a request, into a pending state without an answer). Checked below.
    wire  key_eq  = xl_pasid == lk_pasid && xl_priv == lk_priv && xl_page == lk_page;
    logic key_eq_q;
    wire  xl_mine = xl_done && key_eq_q;
    // Block-on-Fault: waiting for the page request's outcome (pw_q), page requests made for this page
    logic       cur_bof_q, pw_q;
    logic [2:0] rounds_q;
    wire  xl_need   = cur_valid_q && !fail_q_failed && xl_on && !pw_q;
    assign xl_req   = xl_need && xl_lk_ok && !xl_hit_q;
    wire  xl_wait   = xl_need && !key_chg_q && (lk_stale ? xl_req_q : !xl_hit_q);
    wire  xl_denied = xl_wait && xl_mine && xl_res == 2'd1;
    wire  bof_go    = xl_denied && cur_bof_q && 32'(rounds_q) < imsdev_dma_pkg::PRI_RETRIES;
    wire  pr_end    = pw_q && pr_done;
    assign pr_req   = pw_q;
    assign xf_valid = (xl_wait && xl_mine && xl_res != 2'd0 && !bof_go) || (pr_end && pr_res != imsdev_ats_pkg::PR_SUCCESS);
    assign xf_code  = pr_end ? ((pr_res == imsdev_ats_pkg::PR_INVALID) ? imsdev_dma_pkg::DMA_XL_READ_FAULT_IR
                                                                       : imsdev_dma_pkg::DMA_XL_READ_FAULT)
                    : (xl_res == 2'd1) ? imsdev_dma_pkg::DMA_XL_READ_FAULT : imsdev_dma_pkg::DMA_XL_FAIL_RD;
    wire [63:0] pa = {lk_pa_q, addr[11:0]};

    wire abort = cur_valid_q && fail_q_failed && !pw_q;
    // (room is a flip-flop, room_q above, so the issue, done and load decisions need no side-by-side forms)
    wire issue = cur_valid_q && !fail_q_failed && !tags_full && out_free && (!last || end_ready)
                 && (!xl_on || xl_hit_r) && !pw_q && room;
    wire done  = (issue && last) || (abort && end_ready);
    // Take the next command when there is none or the current one is done this cycle; refill its slot from
    // the FIFO head when it is empty or taken.
    wire load  = nxt_valid_q && (!cur_valid_q || done);
    wire fill  = cmd_valid && (!nxt_valid_q || load);

    assign fail_q_seq = cur_seq_q;
    assign cur_load     = load;
    assign cur_load_seq = nxt_seq_q;
    assign cmd_ready  = fill;

    assign tags_alloc_valid = issue;
    assign tags_alloc_pos   = alloc_q;
    assign tags_alloc_len   = n;
    assign tags_alloc_addr7 = addr[6:0];
    assign tags_alloc_seq   = cur_seq_q;
    assign alloc_end_pos    = alloc_q;

    assign end_valid = (issue && last) || abort;
    assign end_pos   = abort ? alloc_q : alloc_q + PW'(n);

    // MRd output: a two-entry FIFO, so a request can be issued every cycle with the issue decision
    // independent of tx_req's ready (its room is a registered count).
    logic [127:0] hdr;
    always_comb begin
        hdr = mrd_hdr(xl_on ? pa : addr, req_dw_count(addr[1:0], n)[9:0], cfg_bdf, 8'(tags_alloc_tag),
                      req_first_be(addr[1:0], n), req_last_be(addr[1:0], n));
        if (xl_on) hdr[107:106] = 2'b10;                  // AT: Translated
    end
    logic [1:0] unused_mrd_count;
    // (registered head, Fmax: the TX arbiter's choice starts from flip-flops, not the pointer compare)
    imsdev_fifo #(.WIDTH(128 + 1 + 32 + TW), .DEPTH(2), .REG_OUT(1'b1)) u_mrd (
        .clk, .rst,
        .in_valid(issue), .in_ready(out_free),
        .in_data({hdr, cur_pasid_valid_q, cur_prfx_q, tags_alloc_tag}),
        .out_valid(mrd_valid), .out_ready(mrd_ready),
        .out_data({mrd_hdr_o, mrd_prfx_valid, mrd_prfx, mrd_tag}),
        .count(unused_mrd_count)
    );

    wire [12:0] a_lo_next = 13'(a_lo_q) + n;               // bit 12: the request ends on a 4 KiB boundary
    wire [13:0] r_lo_next = 14'(r_lo_q) - 14'(n);          // bit 13: borrow from bits 31:13
    wire        carry     = !n_is_rem_q && c4k_q;           // = a_lo_next[12] (checked below)
    // next values of the decision flip-flops (above), per update of r_*, tb_q, a_lo_q
    wire        ld_small  = cmd_len[31:13] == '0;                           // (of the FIFO head: nxt_*)
    wire        is_small  = r_lo_next[13] ? r_hi_dec_q == '0 : rem_small_q;
    wire        ld_c4k    = 13'(cmd_src[11:0]) + cmd_to_bound >= 13'd4096;     // (sums below 8 KiB)
    wire        is_c4k    = 13'(a_lo_next[11:0]) + rd_size_q >= 13'd4096;

    always_ff @(posedge clk) begin
        xl_hit_q  <= xl_hit;
        xl_req_q  <= xl_req && !rst;
        lk_pa_q   <= lk_pa;
        key_eq_q  <= key_eq;
        key_chg_q <= rst || load || (issue && carry);
        if (fill) begin
            nxt_seq_q         <= cmd_seq;
            nxt_ats_q         <= cmd_pasid_valid && !cmd_no_ats;
            nxt_bof_q         <= cmd_bof;
            nxt_pasid_valid_q <= cmd_pasid_valid;
            nxt_prfx_q        <= cmd_pasid_valid ? pasid_prfx(cmd_priv, 1'b0, cmd_pasid) : 32'd0;
            nxt_a_hi_q        <= cmd_src[63:12];
            nxt_a_hi_inc_q    <= cmd_src[63:12] + 52'd1;
            nxt_a_lo_q        <= cmd_src[11:0];
            nxt_r_hi_q        <= cmd_len[31:13];
            nxt_r_hi_dec_q    <= cmd_len[31:13] - 19'd1;
            nxt_r_lo_q        <= cmd_len[12:0];
            nxt_rd_size_q     <= cfg_rd_size;
            nxt_tb_q          <= cmd_to_bound;
            nxt_rem_small_q   <= ld_small;
            nxt_n_is_rem_q    <= ld_small && cmd_len[12:0] < cmd_to_bound;
            nxt_last_q        <= ld_small && cmd_len[12:0] <= cmd_to_bound;
            nxt_c4k_q         <= ld_c4k;
        end
        if (load) begin
            cur_seq_q         <= nxt_seq_q;
            cur_ats_q         <= nxt_ats_q;
            cur_bof_q         <= nxt_bof_q;
            cur_pasid_valid_q <= nxt_pasid_valid_q;
            cur_prfx_q        <= nxt_prfx_q;
            a_hi_q            <= nxt_a_hi_q;
            a_hi_inc_q        <= nxt_a_hi_inc_q;
            a_lo_q            <= nxt_a_lo_q;
            r_hi_q            <= nxt_r_hi_q;
            r_hi_dec_q        <= nxt_r_hi_dec_q;
            r_lo_q            <= nxt_r_lo_q;
            rd_size_q         <= nxt_rd_size_q;
            tb_q              <= nxt_tb_q;
            rem_small_q       <= nxt_rem_small_q;
            n_is_rem_q        <= nxt_n_is_rem_q;
            last_q            <= nxt_last_q;
            c4k_q             <= nxt_c4k_q;
        end else if (issue) begin
            tb_q   <= rd_size_q;
            a_lo_q <= a_lo_next[11:0];
            rem_small_q <= is_small;
            n_is_rem_q  <= is_small && r_lo_next[12:0] < rd_size_q;
            last_q      <= is_small && r_lo_next[12:0] <= rd_size_q;
            c4k_q       <= is_c4k;
            if (carry) begin
                a_hi_q     <= a_hi_inc_q;
                a_hi_inc_q <= a_hi_inc_q + 52'd1;
            end
            r_lo_q <= r_lo_next[12:0];
            if (r_lo_next[13]) begin
                r_hi_q     <= r_hi_dec_q;
                r_hi_dec_q <= r_hi_dec_q - 19'd1;
            end
        end
        room_q <= !rst && (issue ? (load ? fits_il : fits_is) : (load ? fits_ld : room_now));
        if (rst) begin
            nxt_valid_q <= 1'b0;
            cur_valid_q <= 1'b0;
            alloc_q     <= '0;
            pw_q        <= 1'b0;
            rounds_q    <= '0;
        end else begin
            if (bof_go)      pw_q <= 1'b1;
            else if (pr_end) pw_q <= 1'b0;
            if (load || issue) rounds_q <= '0;        // a new command, or the page was granted
            else if (bof_go)   rounds_q <= rounds_q + 3'd1;
            if (fill)      nxt_valid_q <= 1'b1;
            else if (load) nxt_valid_q <= 1'b0;
            if (load)      cur_valid_q <= 1'b1;
            else if (done) cur_valid_q <= 1'b0;
            if (issue) alloc_q <= alloc_q + PW'(n);
        end
    end
`ifndef SYNTHESIS
    // The registered lookup is this cycle's whenever it is valid (imsdev_ats_atc's lk_stale contract), so with
    // a valid lookup xl_req is what this cycle's lookup would ask. (From the first reset on.)
    logic reset_seen_q, cmd_valid_q;
    logic quiet_q, room_plain_q;     // last cycle had no issue and no load; its plain room compare
    initial reset_seen_q = 1'b0;
    always_ff @(posedge clk) begin
        quiet_q      <= !rst && cur_valid_q && !issue && !load;
        room_plain_q <= 32'(space) >= 32'(n);
        if (rst) reset_seen_q <= 1'b1;
        cmd_valid_q <= cmd_valid && !rst;
        if (reset_seen_q && !rst && cur_valid_q && xl_on && xl_lk_ok)
            assert (xl_hit_q == xl_hit) else $error("imsdev_dma_rdreq: registered ATC lookup differs from this cycle's");
        // the decision flip-flops equal their definitions (from the command's load on), the carry the sum's
        if (reset_seen_q && !rst && cur_valid_q) begin
            assert (rem_small_q == (r_hi_q == '0) && n_is_rem_q == (rem_small_q && r_lo_q < tb_q)
                    && last_q == (rem_small_q && r_lo_q <= tb_q) && c4k_q == (13'(a_lo_q) + tb_q >= 13'd4096))
                else $error("imsdev_dma_rdreq: rem_small/n_is_rem/last/c4k %0b%0b%0b%0b differ from r %0d %0d tb %0d a_lo %0d",
                            rem_small_q, n_is_rem_q, last_q, c4k_q, r_hi_q, r_lo_q, tb_q, a_lo_q);
            if (issue)
                assert (carry == a_lo_next[12]) else $error("imsdev_dma_rdreq: carry differs from a_lo + n");
        end
        // the next command's derived values equal their definitions from its fields (so the load gives the
        // running registers what loading the FIFO head directly gave; the check above holds from the load on)
        if (reset_seen_q && !rst && nxt_valid_q)
            assert (nxt_a_hi_inc_q == nxt_a_hi_q + 52'd1 && nxt_r_hi_dec_q == nxt_r_hi_q - 19'd1
                    && nxt_tb_q == nxt_rd_size_q - 13'(nxt_a_lo_q & 12'(nxt_rd_size_q - 13'd1))
                    && nxt_rem_small_q == (nxt_r_hi_q == '0)
                    && nxt_n_is_rem_q == (nxt_rem_small_q && nxt_r_lo_q < nxt_tb_q)
                    && nxt_last_q == (nxt_rem_small_q && nxt_r_lo_q <= nxt_tb_q)
                    && nxt_c4k_q == (13'(nxt_a_lo_q) + nxt_tb_q >= 13'd4096))
                else $error("imsdev_dma_rdreq: next command's derived values differ from its fields");
        // back to back: a command at the FIFO head in one cycle is in nxt_* (or taken) in the next
        if (reset_seen_q && !rst && cmd_valid_q)
            assert (nxt_valid_q) else $error("imsdev_dma_rdreq: a command waited at the FIFO head with the next-command slot empty");
        // the one-adder room check equals the compare wherever a request may issue
        if (reset_seen_q && !rst && cur_valid_q && !fail_q_failed)
            assert (room_now == (n_is_rem ? 32'(space) >= 32'(r_lo_q) : 32'(space) >= 32'(tb_q)))
                else $error("imsdev_dma_rdreq: room check %0b differs from space %0d >= n (rem %0d, tb %0d)",
                            room_now, space, r_lo_q, tb_q);
        // the registered room is never more than there is, and exactly last cycle's compare after a cycle
        // without an issue or a load (so a request waits for room at most a cycle longer than the compare says)
        if (reset_seen_q && !rst && cur_valid_q && !fail_q_failed)
            assert (!room_q || 32'(space) >= 32'(n))
                else $error("imsdev_dma_rdreq: registered room claims %0d bytes with %0d free", n, space);
        if (reset_seen_q && !rst && cur_valid_q && quiet_q)
            assert (room_q == room_plain_q)
                else $error("imsdev_dma_rdreq: registered room %0b differs from last cycle's compare %0b", room_q, room_plain_q);
        // the registered key compare is this cycle's wherever an answer can be taken
        if (reset_seen_q && !rst && xl_done && !key_chg_q)
            assert (key_eq_q == key_eq) else $error("imsdev_dma_rdreq: registered answer key compare differs from this cycle's");
    end
`endif
endmodule

`default_nettype wire
