// DMA engine of the device: executes COPY, FILL and WRITE commands as PCIe MRd/MWr on tx_req, taking the
// read data from rx_cpl, and answers every command with exactly one response.
//
//   cmd --+--> write cmd FIFO --> imsdev_dma_wr ----> out FIFO --+--> tx arbiter --> tx_req
//         |                          ^  ^ end pos                |      ^ MRd
//         +--> read cmd FIFO --> imsdev_dma_rdreq ---------------|------+
//         (COPY only)                |  |                        +--> rsp FIFO --> rsp
//                                    v  v
//                              imsdev_dma_tags <-- imsdev_dma_cpl <-- rx_cpl
//                                                        |
//                                                        v
//                                   imsdev_dma_rdbuf (byte banks) --> imsdev_dma_wr
//
// Commands run in order and overlap: the read side runs ahead into later commands while the write side
// finishes earlier ones (bounded by the command FIFOs, CMD_DEPTH). Responses come in command order.
// Response rule: a response leaves only after the command's last write beat was accepted on tx_req
// (the write engine queues it behind that beat), so anything the caller sends after seeing the response
// (a completion record write, an interrupt message) is behind the data in posted order.
// PASID: every MRd/MWr of a command with cmd_pasid_valid carries the PASID prefix (PMR = cmd_priv).
// Bus Master Enable: no TLP is presented on tx_req while cfg_bus_master_en is 0 (one already presented,
// i.e. valid shown but not yet accepted, or already started, is finished: the stream never drops valid).
// The TLP streams are as docs/tlp_interface.md. Splitting rules: imsdev_dma_rdreq (reads), imsdev_dma_wr
// (writes); completion checks: imsdev_dma_cpl; tags, timeout and failures: imsdev_dma_tags.
// ATS (ATS_ENTRIES > 0, docs/ats_pri.md 2.2-2.4): the ATC (imsdev_ats_atc) and the translation requester
// (imsdev_ats_xlate) live here. Both sides look their pages up per TLP; Translation Requests share the MRd
// side of the tx_req arbiter (ahead of data reads); completions with a translation tag (TAGS, TAGS + 1) are
// steered to the requester, never to imsdev_dma_cpl. With ATS_ENTRIES = 0 or cfg_ats_en = 0 every TLP is as
// without ATS. The invalidation handler (imsdev_ats_inv, outside) drives inv_* and reads the counters.
`default_nettype none

module imsdev_dma #(
    parameter int DATA_W      = 256,
    parameter int TAGS        = 16,        // outstanding MRd (power of two, 2..256; more than 32 needs Extended Tags)
    parameter int BUF_BYTES   = 4096,      // read buffer (power of two, >= 512 and >= 2 beats)
    parameter int CPL_TIMEOUT = 131072,    // cycles from a MRd's acceptance on tx_req to its last completion
    parameter int CMD_DEPTH   = 4,         // commands in flight (command FIFO depth, power of two)
    parameter int ATS_ENTRIES = 0          // ATC entries; 0 = no ATS logic
) (
    input  wire logic              clk,
    input  wire logic              rst,

    input  wire logic [15:0]       cfg_bdf,
    input  wire logic              cfg_bus_master_en,
    input  wire logic [2:0]        cfg_max_payload,
    input  wire logic [2:0]        cfg_max_read_req,
    input  wire logic              cfg_ats_en,
    input  wire logic [4:0]        cfg_ats_stu,

    input  wire logic              cmd_valid,
    output      logic              cmd_ready,
    input  wire logic [2:0]        cmd_op,
    input  wire logic              cmd_pasid_valid,
    input  wire logic [19:0]       cmd_pasid,
    input  wire logic              cmd_priv,
    input  wire logic [63:0]       cmd_src,
    input  wire logic [63:0]       cmd_dst,
    input  wire logic [31:0]       cmd_len,
    input  wire logic [63:0]       cmd_pattern,
    input  wire logic [255:0]      cmd_wdata,
    input  wire logic [7:0]        cmd_id,
    input  wire logic              cmd_no_ats,     // never translate this command (WQCFG2.ATS_DISABLE)
    input  wire logic              cmd_bof,        // Block-on-Fault: a denied page waits for a page request

    output      logic              rsp_valid,
    input  wire logic              rsp_ready,
    output      logic [7:0]        rsp_id,
    output      logic [3:0]        rsp_status,
    output      logic [31:0]       rsp_bytes,
    output      logic [511:0]      rsp_data,      // FETCH: the bytes read, valid with the FETCH's response

    output      logic              tx_req_valid,
    input  wire logic              tx_req_ready,
    output      logic              tx_req_sop,
    output      logic              tx_req_eop,
    output      logic [127:0]      tx_req_hdr,
    output      logic              tx_req_mwr,    // the TLP shown is a memory write (posted); else MRd / Translation Request
    output      logic              tx_req_prfx_valid,
    output      logic [31:0]       tx_req_prfx,
    output      logic [DATA_W-1:0] tx_req_data,

    input  wire logic              rx_cpl_valid,
    output      logic              rx_cpl_ready,
    input  wire logic              rx_cpl_sop,
    input  wire logic              rx_cpl_eop,
    input  wire logic [127:0]      rx_cpl_hdr,
    input  wire logic              rx_cpl_prfx_valid,
    input  wire logic [31:0]       rx_cpl_prfx,
    input  wire logic [DATA_W-1:0] rx_cpl_data,

    // ATS invalidation (imsdev_ats_inv): ATC invalidate / clear, and the counters of its snapshots
    input  wire logic              inv_valid,
    input  wire logic              inv_has_pasid,
    input  wire logic [19:0]       inv_pasid,
    input  wire logic [51:0]       inv_page,
    input  wire logic [5:0]        inv_size,
    output      logic [15:0]       rd_alloc_count,   // MRd allocated (every MRd, translated or not)
    output      logic [15:0]       rd_retire_count,  // MRd retired (all completions in, or ended)
    output      logic [15:0]       wr_planned_count, // translated MWr TLPs planned (header holds a PA)
    output      logic [15:0]       wr_sent_count,    // translated MWr TLPs whose last beat was accepted

    // PRI (imsdev_pri, outside): page requests of the read side (slot 0) and the write side (slot 1)
    output      logic [1:0]        pr_req,
    output      logic [1:0][19:0]  pr_pasid,
    output      logic [1:0]        pr_priv,
    output      logic [1:0][51:0]  pr_page,
    input  wire logic [1:0]        pr_done,
    input  wire logic [1:0][1:0]   pr_res,

    output      logic              err_unexpected_cpl   // pulse: a completion was dropped (unknown tag, bad fields)
);
    import imsdev_dma_pkg::*;

    localparam int NB    = DATA_W / 8;
    localparam int AW    = $clog2(BUF_BYTES);
    localparam int PW    = AW + 1;
    localparam int TW    = (TAGS > 1) ? $clog2(TAGS) : 1;
    localparam int SEQ_W = $clog2(CMD_DEPTH) + 2;    // sequence numbers outnumber commands in flight

    initial begin
        if (DATA_W != 64 && DATA_W != 128 && DATA_W != 256 && DATA_W != 512)
            $fatal(1, "imsdev_dma: DATA_W (%0d) must be 64, 128, 256 or 512", DATA_W);
        if (TAGS < 2 || TAGS > 256 || (TAGS & (TAGS - 1)) != 0)
            $fatal(1, "imsdev_dma: TAGS (%0d) must be a power of two, 2..256", TAGS);
        if (BUF_BYTES < 512 || BUF_BYTES < 2 * NB || (BUF_BYTES & (BUF_BYTES - 1)) != 0)
            $fatal(1, "imsdev_dma: BUF_BYTES (%0d) must be a power of two, >= 512 and >= two beats", BUF_BYTES);
        if (CPL_TIMEOUT < 16) $fatal(1, "imsdev_dma: CPL_TIMEOUT (%0d) must be at least 16", CPL_TIMEOUT);
        if (CMD_DEPTH < 2 || (CMD_DEPTH & (CMD_DEPTH - 1)) != 0)
            $fatal(1, "imsdev_dma: CMD_DEPTH (%0d) must be a power of two >= 2", CMD_DEPTH);
    end

    // Completions carry no PASID prefix that matters to a requester.
    wire unused_rx_prfx = &{1'b0, rx_cpl_prfx_valid, rx_cpl_prfx};

    // FIFO fill levels and the timeout pulse are not needed here (flow control uses in_ready).
    logic [$clog2(CMD_DEPTH+1)-1:0] unused_wc_count, unused_rc_count, unused_end_count;
    logic [2:0]                     unused_rsp_count;
    logic                           rsp_fetch;          // the response at rsp_valid is a FETCH's
    logic                           unused_timeout;

    // ---------------------------------------------------------------- command intake
    // write cmd FIFO entry: {op, invalid, dst, len, data, pasid_valid, pasid, priv, id, seq, no_ats, bof}
    localparam int WC_W = 3 + 1 + 64 + 32 + 256 + 1 + 20 + 1 + 8 + SEQ_W + 1 + 1;
    // read cmd FIFO entry: {src, len, pasid_valid, pasid, priv, seq, no_ats, bof}
    localparam int RC_W = 64 + 32 + 1 + 20 + 1 + SEQ_W + 1 + 1;

    logic             wc_in_ready, rc_in_ready;
    logic [SEQ_W-1:0] seq_q;

    wire cmd_invalid = !(cmd_op == DMA_OP_COPY || cmd_op == DMA_OP_FILL || cmd_op == DMA_OP_WRITE
                         || cmd_op == DMA_OP_FETCH)
                       || (cmd_op == DMA_OP_WRITE && cmd_len > 32'(DMA_WRITE_MAX_BYTES))
                       || (cmd_op == DMA_OP_FETCH && (cmd_len > 32'(DMA_FETCH_MAX_BYTES) || cmd_src[5:0] != 6'd0));
    // A FETCH reads like a COPY; the write engine then hands its bytes to rsp_data instead of the link.
    wire cmd_reads   = (cmd_op == DMA_OP_COPY || cmd_op == DMA_OP_FETCH) && !cmd_invalid && cmd_len != 32'd0;
    wire accept      = cmd_valid && cmd_ready;

    // (both FIFOs' in_ready from flip-flops, REG_READY: cmd_ready heads the descriptor engine's command fire,
    // which runs into its issue and retire stages and the dequeue; Fmax, round 17)
    assign cmd_ready = wc_in_ready && rc_in_ready;

    always_ff @(posedge clk) begin
        if (rst)         seq_q <= '0;
        else if (accept) seq_q <= seq_q + 1'b1;
    end

    logic             wc_valid, wc_pop;
    logic [2:0]       wc_op;
    logic             wc_invalid, wc_pasid_valid, wc_priv;
    logic [63:0]      wc_dst;
    logic [31:0]      wc_len;
    logic [255:0]     wc_data;
    logic [19:0]      wc_pasid;
    logic [7:0]       wc_id;
    logic [SEQ_W-1:0] wc_seq;
    logic             wr_load;         // the write engine takes its next command (from its own next-command
    logic [SEQ_W-1:0] wr_load_seq;     // registers, not the FIFO head): for the tags' registered lookup
    logic             wc_no_ats, rc_no_ats, wc_bof, rc_bof;

    imsdev_fifo #(.WIDTH(WC_W), .DEPTH(CMD_DEPTH), .REG_READY(1'b1)) u_wcmd (
        .clk, .rst,
        .in_valid(accept), .in_ready(wc_in_ready),
        // (a FETCH is planned at destination 0: its bytes leave the buffer beat-aligned, byte 0 first)
        .in_data({cmd_op, cmd_invalid, (cmd_op == DMA_OP_FETCH) ? 64'd0 : cmd_dst, cmd_len,
                  (cmd_op == DMA_OP_FILL) ? {192'd0, cmd_pattern} : cmd_wdata,
                  cmd_pasid_valid, cmd_pasid, cmd_priv, cmd_id, seq_q, cmd_no_ats, cmd_bof}),
        .out_valid(wc_valid), .out_ready(wc_pop),
        .out_data({wc_op, wc_invalid, wc_dst, wc_len, wc_data, wc_pasid_valid, wc_pasid, wc_priv, wc_id, wc_seq,
                   wc_no_ats, wc_bof}),
        .count(unused_wc_count)
    );

    logic             rc_valid, rc_pop, rc_pasid_valid, rc_priv;
    logic [63:0]      rc_src;
    logic [31:0]      rc_len;
    logic [19:0]      rc_pasid;
    logic [SEQ_W-1:0] rc_seq;

    imsdev_fifo #(.WIDTH(RC_W), .DEPTH(CMD_DEPTH), .REG_READY(1'b1)) u_rcmd (
        .clk, .rst,
        .in_valid(accept && cmd_reads), .in_ready(rc_in_ready),
        .in_data({cmd_src, cmd_len, cmd_pasid_valid, cmd_pasid, cmd_priv, seq_q, cmd_no_ats, cmd_bof}),
        .out_valid(rc_valid), .out_ready(rc_pop),
        .out_data({rc_src, rc_len, rc_pasid_valid, rc_pasid, rc_priv, rc_seq, rc_no_ats, rc_bof}),
        .count(unused_rc_count)
    );

    // ---------------------------------------------------------------- tags, read requests, completions
    logic              tags_full, alloc_valid, sent_valid;
    logic [TW-1:0]     alloc_tag, sent_tag, lk_tag, upd_tag, upd_tag_next, mrd_tag;
    logic [PW-1:0]     alloc_pos, alloc_end_pos, lk_pos, avail_pos, avail_base, avail_add, free_pos, end_in_pos, end_out_pos;
    logic [12:0]       alloc_len, lk_rem, lk_rcvd, upd_bytes;
    logic [6:0]        alloc_addr7, lk_la7;
    logic              lk_live, upd_valid, upd_final, upd_err;
    logic [3:0]        upd_err_code, fail_wr_code;
    logic [SEQ_W-1:0]  fail_rd_seq, fail_wr_seq, alloc_seq, rd_load_seq;
    logic              rd_load;
    logic              fail_rd, fail_wr, fail_wr_rdx, busy_wr;
    logic              end_in_valid, end_in_ready, end_out_valid, end_pop;
    logic              mrd_valid, mrd_ready, mrd_prfx_valid;
    logic [127:0]      mrd_hdr;
    logic [31:0]       mrd_prfx;
    logic              buf_wr_valid, buf_rd_en;
    logic [AW-1:0]     buf_wr_pos, buf_rd_pos;
    logic [DATA_W-1:0] buf_wr_data, buf_rd_data;
    logic [NB-1:0]     buf_wr_mask;

    imsdev_dma_tags #(.TAGS(TAGS), .SEQ_W(SEQ_W), .PW(PW), .CPL_TIMEOUT(CPL_TIMEOUT)) u_tags (
        .clk, .rst,
        .full(tags_full), .alloc_tag, .alloc_valid, .alloc_pos, .alloc_len, .alloc_addr7,
        .alloc_seq, .alloc_end_pos,
        .sent_valid, .sent_tag,
        .lk_tag, .lk_live, .lk_pos, .lk_rem, .lk_rcvd, .lk_la7,
        .upd_valid, .upd_tag, .upd_tag_next, .upd_bytes, .upd_final, .upd_err, .upd_err_code,
        .clr_valid(accept), .clr_seq(seq_q),
        .q_rd_seq(fail_rd_seq), .q_rd_load(rd_load), .q_rd_load_seq(rd_load_seq), .q_rd_failed(fail_rd),
        .q_wr_seq(fail_wr_seq), .q_wr_load(wr_load), .q_wr_load_seq(wr_load_seq), .q_wr_failed(fail_wr),
        .q_wr_rdx(fail_wr_rdx), .q_wr_code(fail_wr_code), .q_wr_busy(busy_wr),
        .xf_valid, .xf_seq, .xf_code, .alloc_count(rd_alloc_count), .retire_count(rd_retire_count),
        .avail_pos, .avail_base, .avail_add, .timeout_pulse(unused_timeout)
    );

    imsdev_dma_rdreq #(.BUF_BYTES(BUF_BYTES), .TAGS(TAGS), .SEQ_W(SEQ_W)) u_rdreq (
        .clk, .rst, .cfg_bdf, .cfg_max_read_req,
        .cmd_valid(rc_valid), .cmd_ready(rc_pop), .cmd_src(rc_src), .cmd_len(rc_len),
        .cmd_pasid_valid(rc_pasid_valid), .cmd_pasid(rc_pasid), .cmd_priv(rc_priv), .cmd_seq(rc_seq),
        .cmd_no_ats(rc_no_ats), .cmd_bof(rc_bof), .cur_load(rd_load), .cur_load_seq(rd_load_seq), .ats_on,
        .lk_pasid(lk_pasid[0]), .lk_priv(lk_priv[0]), .lk_page(lk_page[0]), .lk_hit(lk_hit[0]), .lk_r(lk_r[0]),
        .lk_pa(lk_pa[0]), .lk_stale, .xl_req(xl_req[0]), .xl_done(xl_done[0]), .xl_res(xl_res[0]), .xl_pasid(xl_pasid[0]),
        .xl_priv(xl_priv[0]), .xl_page(xl_page[0]), .xf_valid(xf_valid[0]), .xf_code(xf_code[0]),
        .pr_req(pr_req[0]), .pr_done(pr_done[0]), .pr_res(pr_res[0]),
        .tags_full, .tags_alloc_tag(alloc_tag), .tags_alloc_valid(alloc_valid), .tags_alloc_pos(alloc_pos),
        .tags_alloc_len(alloc_len), .tags_alloc_addr7(alloc_addr7), .tags_alloc_seq(alloc_seq), .alloc_end_pos,
        .fail_q_seq(fail_rd_seq), .fail_q_failed(fail_rd),
        .free_pos,
        .end_valid(end_in_valid), .end_ready(end_in_ready), .end_pos(end_in_pos),
        .mrd_valid, .mrd_ready, .mrd_hdr_o(mrd_hdr), .mrd_prfx_valid, .mrd_prfx, .mrd_tag
    );

    // (registered head: the end position and its valid start the write engine's start / clamp decisions)
    imsdev_fifo #(.WIDTH(PW), .DEPTH(CMD_DEPTH), .REG_OUT(1'b1)) u_end (
        .clk, .rst,
        .in_valid(end_in_valid), .in_ready(end_in_ready), .in_data(end_in_pos),
        .out_valid(end_out_valid), .out_ready(end_pop), .out_data(end_out_pos),
        .count(unused_end_count)
    );

    // Completions with a translation tag go to the translation requester (decided at sop, kept for the TLP).
    logic cv_q;
    wire  cv_now = ATS_ENTRIES > 0 && (imsdev_tlp_pkg::cpl_tag(rx_cpl_hdr) == 8'(TAGS)
                                       || imsdev_tlp_pkg::cpl_tag(rx_cpl_hdr) == 8'(TAGS + 1));
    wire  cv_sel = rx_cpl_sop ? cv_now : cv_q;
    always_ff @(posedge clk) begin
        if (rst)                              cv_q <= 1'b0;
        else if (rx_cpl_valid && rx_cpl_sop)  cv_q <= cv_now;
    end
    logic dma_cpl_ready, cpl_unexpected, xl_unexpected;
    assign rx_cpl_ready = dma_cpl_ready;                 // (always ready)
    // The translation requester flags a completion one cycle after it arrives (its completion stage), the
    // completion unit two (its two stages): one more register here gives both the same delay, so two unexpected
    // completions always make two pulses.
    logic xl_unexpected_q;
    always_ff @(posedge clk) xl_unexpected_q <= !rst && xl_unexpected;
    assign err_unexpected_cpl = cpl_unexpected || xl_unexpected_q;

    imsdev_dma_cpl #(.DATA_W(DATA_W), .TAGS(TAGS), .PW(PW)) u_cpl (
        .clk, .rst, .cfg_bdf,
        .rx_cpl_valid(rx_cpl_valid && !cv_sel), .rx_cpl_ready(dma_cpl_ready), .rx_cpl_sop, .rx_cpl_eop, .rx_cpl_hdr,
        .rx_cpl_data,
        .lk_tag, .lk_live, .lk_pos, .lk_rem, .lk_rcvd, .lk_la7,
        .upd_valid, .upd_tag, .upd_tag_next, .upd_bytes, .upd_final, .upd_err, .upd_err_code,
        .buf_wr_valid, .buf_wr_pos, .buf_wr_data, .buf_wr_mask,
        .err_unexpected_cpl(cpl_unexpected)
    );

    // ---------------------------------------------------------------- ATS: ATC and translation requester
    logic [1:0]        lk_hit, lk_r, lk_w, lk_priv, xl_req, xl_done, xl_priv, xf_valid;
    logic              lk_stale;
    logic [1:0][19:0]  lk_pasid, xl_pasid;
    logic [1:0][51:0]  lk_page, lk_pa, xl_page;
    logic [1:0][1:0]   xl_res;
    logic [1:0][3:0]   xf_code;
    logic [1:0][SEQ_W-1:0] xf_seq;
    logic              xr_valid, xr_ready;
    logic [127:0]      xr_hdr;
    logic [31:0]       xr_prfx;
    logic              ats_on;
    assign xf_seq = {fail_wr_seq, fail_rd_seq};          // each side fails its current command
    // a side asking for a page asks for the page it is looking up
    assign pr_pasid = lk_pasid;
    assign pr_priv  = lk_priv;
    assign pr_page  = lk_page;
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_perm = &{1'b0, lk_r[1], lk_w[0]};         // the read side needs R, the write side W
    /* verilator lint_on UNUSEDSIGNAL */

    if (ATS_ENTRIES > 0) begin : g_ats
        logic ats_en_q;
        always_ff @(posedge clk) ats_en_q <= !rst && cfg_ats_en;
        // ATS Enable 0 -> 1 empties the ATC (PCIe 10.3.7, no Invalidate Completion); reset and FLR too (rst).
        wire atc_clear = cfg_ats_en && !ats_en_q;
        assign ats_on = cfg_ats_en;

        logic              ins_valid, ins_priv, ins_r, ins_w;
        logic [19:0]       ins_pasid;
        logic [51:0]       ins_page, ins_pa;
        logic [5:0]        ins_size, pre_size;
        logic [19:0]       pre_pasid;
        logic              pre_priv;
        logic [51:0]       pre_page;
        logic [ATS_ENTRIES-1:0] unused_atc_valid;
        imsdev_ats_atc #(.ENTRIES(ATS_ENTRIES)) u_atc (
            .clk, .rst, .clear(atc_clear),
            .lk_pasid, .lk_priv, .lk_page, .lk_hit, .lk_r, .lk_w, .lk_pa,
            .ins_valid, .ins_pasid, .ins_priv, .ins_page, .ins_pa, .ins_size, .ins_r, .ins_w,
            .pre_pasid, .pre_priv, .pre_page, .pre_size,
            .inv_valid, .inv_has_pasid, .inv_pasid, .inv_page, .inv_size, .lk_stale, .valid_o(unused_atc_valid)
        );

        imsdev_ats_xlate #(.DATA_W(DATA_W), .TAG_BASE(TAGS), .CPL_TIMEOUT(CPL_TIMEOUT)) u_xlate (
            .clk, .rst, .cfg_bdf, .cfg_ats_en, .cfg_ats_stu,
            .req_valid(xl_req), .req_pasid(lk_pasid), .req_priv(lk_priv), .req_page(lk_page),
            .done(xl_done), .done_res(xl_res), .done_pasid(xl_pasid), .done_priv(xl_priv), .done_page(xl_page),
            .xr_valid, .xr_ready, .xr_hdr, .xr_prfx,
            .cv_valid(rx_cpl_valid && cv_sel), .cv_sop(rx_cpl_sop), .cv_eop(rx_cpl_eop), .cv_hdr(rx_cpl_hdr),
            .cv_data(rx_cpl_data[63:0]),
            .ins_valid, .ins_pasid, .ins_priv, .ins_page, .ins_pa, .ins_size, .ins_r, .ins_w,
            .pre_pasid, .pre_priv, .pre_page, .pre_size,
            .inv_valid, .inv_has_pasid, .inv_pasid, .atc_clear,
            .err_unexpected(xl_unexpected)
        );
    end else begin : g_no_ats
        assign ats_on   = 1'b0;
        assign lk_hit   = '0;
        assign lk_r     = '0;
        assign lk_w     = '0;
        assign lk_pa    = '0;
        assign lk_stale = 1'b0;
        assign xl_done  = '0;
        assign xl_res   = '0;
        assign xl_pasid = '0;
        assign xl_priv  = '0;
        assign xl_page  = '0;
        assign xr_valid = 1'b0;
        assign xr_hdr   = '0;
        assign xr_prfx  = '0;
        assign xl_unexpected = 1'b0;
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused_ats = &{1'b0, cfg_ats_en, cfg_ats_stu, inv_valid, inv_has_pasid, inv_pasid, inv_page,
                            inv_size, xl_req, xr_ready, lk_pasid, lk_priv, lk_page};
        /* verilator lint_on UNUSEDSIGNAL */
    end

    imsdev_dma_rdbuf #(.DATA_W(DATA_W), .BUF_BYTES(BUF_BYTES)) u_buf (
        .clk,
        .wr_valid(buf_wr_valid), .wr_pos(buf_wr_pos), .wr_data(buf_wr_data), .wr_mask(buf_wr_mask),
        .rd_en(buf_rd_en), .rd_pos(buf_rd_pos), .rd_data(buf_rd_data)
    );

    // ---------------------------------------------------------------- write engine
    logic              wo_valid, wo_ready, wo_marker, wo_fetch, wo_sop, wo_eop, wo_prfx_valid, wo_rsp_valid;
    logic [127:0]      wo_hdr;
    logic [31:0]       wo_prfx, wo_rsp_bytes;
    logic [DATA_W-1:0] wo_data;
    logic [7:0]        wo_rsp_id;
    logic [3:0]        wo_rsp_status;

    imsdev_dma_wr #(.DATA_W(DATA_W), .BUF_BYTES(BUF_BYTES), .SEQ_W(SEQ_W)) u_wr (
        .clk, .rst, .cfg_bdf, .cfg_max_payload,
        .cmd_valid(wc_valid), .cmd_pop(wc_pop), .cmd_op(wc_op), .cmd_invalid(wc_invalid), .cmd_dst(wc_dst),
        .cmd_len(wc_len), .cmd_data(wc_data), .cmd_pasid_valid(wc_pasid_valid), .cmd_pasid(wc_pasid),
        .cmd_priv(wc_priv), .cmd_id(wc_id), .cmd_seq(wc_seq),
        .cmd_no_ats(wc_no_ats), .cmd_bof(wc_bof), .cur_load(wr_load), .cur_load_seq(wr_load_seq), .ats_on,
        .lk_pasid(lk_pasid[1]), .lk_priv(lk_priv[1]), .lk_page(lk_page[1]), .lk_hit(lk_hit[1]), .lk_w(lk_w[1]),
        .lk_pa(lk_pa[1]), .lk_stale, .xl_req(xl_req[1]), .xl_done(xl_done[1]), .xl_res(xl_res[1]), .xl_pasid(xl_pasid[1]),
        .xl_priv(xl_priv[1]), .xl_page(xl_page[1]), .xf_valid(xf_valid[1]), .xf_code(xf_code[1]),
        .pr_req(pr_req[1]), .pr_done(pr_done[1]), .pr_res(pr_res[1]),
        .xl_planned(wr_planned_count),
        .avail_pos, .avail_base, .avail_add, .free_pos,
        .fail_q_seq(fail_wr_seq), .fail_q_failed(fail_wr), .fail_q_rdx(fail_wr_rdx), .fail_q_code(fail_wr_code),
        .fail_q_busy(busy_wr),
        .end_valid(end_out_valid), .end_pop, .end_pos(end_out_pos),
        .buf_rd_en, .buf_rd_pos, .buf_rd_data,
        .out_valid(wo_valid), .out_ready(wo_ready), .out_marker(wo_marker), .out_fetch(wo_fetch),
        .out_sop(wo_sop), .out_eop(wo_eop),
        .out_hdr(wo_hdr), .out_prfx_valid(wo_prfx_valid), .out_prfx(wo_prfx), .out_data(wo_data),
        .out_rsp_valid(wo_rsp_valid), .out_rsp_id(wo_rsp_id), .out_rsp_status(wo_rsp_status),
        .out_rsp_bytes(wo_rsp_bytes)
    );

    // ---------------------------------------------------------------- responses
    logic rsp_in_ready, rsp_push;

    // (registered head and full flag, Fmax: the engine's response handling starts from flip-flops, and the
    // write engine's finish no longer waits on this FIFO's pointers)
    imsdev_fifo #(.WIDTH(1 + 8 + 4 + 32), .DEPTH(4), .REG_OUT(1'b1), .REG_READY(1'b1)) u_rsp (
        .clk, .rst,
        .in_valid(rsp_push), .in_ready(rsp_in_ready),
        .in_data({wo_fetch, wo_rsp_id, wo_rsp_status, wo_rsp_bytes}),
        .out_valid(rsp_valid), .out_ready(rsp_ready), .out_data({rsp_fetch, rsp_id, rsp_status, rsp_bytes}),
        .count(unused_rsp_count)
    );

    // ---------------------------------------------------------------- tx_req arbiter
    // Whole TLPs, round robin between MRd and MWr. A presented TLP is held until accepted (hold_q), also
    // if Bus Master Enable falls meanwhile (a stream never withdraws valid); no TLP is newly presented
    // while it is 0. Once a MWr's first beat is accepted its beats follow back to back (lock_q).
    // Response markers and FETCH beats at the head of the write output are consumed here without using
    // tx_req (a FETCH beat is shifted into rsp_data; its last beat carries the FETCH's response). While a
    // FETCH's response waits in the response FIFO (fetch_pend_q), the next FETCH's beats and marker wait,
    // so rsp_data holds the waiting FETCH's bytes until its response is taken.
    logic lock_q, hold_q, hold_wr_q, hold_xr_q, prefer_wr_q;
    // MRd side: a Translation Request goes ahead of data reads (a shown one stays selected).
    wire rd_xr  = hold_q ? hold_xr_q : xr_valid;
    wire rd_any = xr_valid || mrd_valid;

    logic fetch_pend_q;
    wire wr_marker = wo_valid && (wo_marker || wo_fetch) && !(wo_fetch && fetch_pend_q);
    wire wr_beat   = wo_valid && !wo_marker && !wo_fetch && (!wo_rsp_valid || rsp_in_ready);

    logic sel_wr, tx_valid;
    always_comb begin
        if (lock_q)       sel_wr = 1'b1;
        else if (hold_q)  sel_wr = hold_wr_q;
        else if (wr_beat && rd_any) sel_wr = prefer_wr_q;
        else              sel_wr = wr_beat;
        tx_valid = sel_wr ? wr_beat : rd_any;
        if (!lock_q && !hold_q && !cfg_bus_master_en) tx_valid = 1'b0;
    end

    wire tx_go = tx_valid && tx_req_ready;

    assign tx_req_valid      = tx_valid;
    assign tx_req_sop        = sel_wr ? wo_sop : 1'b1;
    assign tx_req_eop        = sel_wr ? wo_eop : 1'b1;
    assign tx_req_hdr        = sel_wr ? wo_hdr : rd_xr ? xr_hdr : mrd_hdr;
    // the write side sends only memory writes, the read side only reads (checked in imsdev_top against the
    // header): the egress order's posted count takes this instead of decoding the selected header
    assign tx_req_mwr        = sel_wr;
    assign tx_req_prfx_valid = sel_wr ? wo_prfx_valid : rd_xr ? 1'b1 : mrd_prfx_valid;
    assign tx_req_prfx       = sel_wr ? wo_prfx : rd_xr ? xr_prfx : mrd_prfx;
    assign tx_req_data       = sel_wr ? wo_data : '0;

    assign mrd_ready  = tx_go && !sel_wr && !rd_xr;
    assign xr_ready   = tx_go && !sel_wr && rd_xr;
    assign sent_valid = mrd_ready;
    assign sent_tag   = mrd_tag;
    assign wo_ready   = (tx_go && sel_wr) || (wr_marker && rsp_in_ready);
    assign rsp_push   = (tx_go && sel_wr && wo_rsp_valid) || (wr_marker && rsp_in_ready && wo_rsp_valid);

    // FETCH data: beats arrive byte 0 first; the FETCH's response is pushed with its last beat, so rsp_data
    // is complete when that response reaches rsp_valid. A caller may have several FETCHes outstanding (the
    // descriptor engine prefetches batch members): fetch_pend_q holds the next one back until the response
    // is taken, so nothing overwrites rsp_data before.
    logic [511:0] fetch_q;
    wire          fetch_beat = wo_valid && wo_fetch && !wo_marker && rsp_in_ready && !fetch_pend_q;
    always_ff @(posedge clk) begin
        if (rst)                                      fetch_pend_q <= 1'b0;
        else if (rsp_push && wo_fetch)                fetch_pend_q <= 1'b1;
        else if (rsp_valid && rsp_ready && rsp_fetch) fetch_pend_q <= 1'b0;
    end
    if (DATA_W >= 512) begin : g_fetch_one
        always_ff @(posedge clk) begin
            if (rst)             fetch_q <= '0;
            else if (fetch_beat) fetch_q <= 512'(wo_data);
        end
    end else begin : g_fetch_beats
        // Beat k of a FETCH lands at bytes [k*NB, (k+1)*NB) of rsp_data, counted from the FETCH's first beat
        // (sop): byte 0 of the source is byte 0 of rsp_data also for a FETCH shorter than 64 bytes, which
        // has fewer than 512/DATA_W beats (shifting beats in from the top would leave it in the upper half).
        localparam int FETCH_BEATS = 512 / DATA_W;
        logic [$clog2(FETCH_BEATS)-1:0] fetch_idx_q;
        wire  [$clog2(FETCH_BEATS)-1:0] fetch_idx = wo_sop ? '0 : fetch_idx_q;
        always_ff @(posedge clk) begin
            if (rst) begin
                fetch_q     <= '0;
                fetch_idx_q <= '0;
            end else if (fetch_beat) begin
                fetch_q[32'(fetch_idx) * DATA_W +: DATA_W] <= wo_data;
                fetch_idx_q <= fetch_idx + 1'b1;
            end
        end
    end
    assign rsp_data = fetch_q;

    always_ff @(posedge clk) begin
        if (rst) begin
            lock_q      <= 1'b0;
            hold_q      <= 1'b0;
            hold_wr_q   <= 1'b0;
            hold_xr_q   <= 1'b0;
            wr_sent_count <= '0;
            prefer_wr_q <= 1'b0;
        end else begin
            if (tx_go) begin
                hold_q <= 1'b0;
                if (sel_wr) begin
                    lock_q <= !wo_eop;
                    if (wo_eop) prefer_wr_q <= 1'b0;
                end else begin
                    prefer_wr_q <= 1'b1;
                end
            end else if (tx_valid && !lock_q) begin
                hold_q    <= 1'b1;
                hold_wr_q <= sel_wr;
                hold_xr_q <= rd_xr;
            end
            if (tx_go && sel_wr && wo_eop && wo_hdr[107:106] == 2'b10) wr_sent_count <= wr_sent_count + 16'd1;
        end
    end
endmodule

`default_nettype wire
