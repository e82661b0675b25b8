// ATS formats shared by the ATC, the translation requester and the invalidation handler (docs/ats_pri.md 1.3,
// 1.4). Sizes are kept as log2 of the number of 4 KiB pages (0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB, 52 = all).
`default_nettype none

package imsdev_ats_pkg;
    // Translation Completion entry / Invalidate Request payload wire order (docs/ats_pri.md 1.3: PCIe r6.2
    // Figure 10-14 and the Invalidate Request message body put address bits 63:32 in the first DW):
    // 1 = DW0 of the payload is bits 63:32 of the 64-bit entry, 0 = DW0 is bits 31:0. Each DW in header byte
    // order (payload byte 0 = the DW's bits 31:24) either way. The one place to flip it.
    localparam bit ENTRY_DW0_HIGH = 1'b1;

    localparam logic [7:0] MSG_CODE_INV_REQ = 8'h01;
    localparam logic [7:0] MSG_CODE_INV_CPL = 8'h02;
    localparam logic [7:0] FT_MSGD_ID       = 8'h72;    // MsgD, 4DW, routed by ID
    localparam logic [7:0] FT_MSG_ID        = 8'h32;    // Msg, 4DW, routed by ID
    // PRI (docs/ats_pri.md 1.5)
    localparam logic [7:0] MSG_CODE_PAGE_REQ = 8'h04;
    localparam logic [7:0] MSG_CODE_PRG_RSP  = 8'h05;
    localparam logic [7:0] FT_MSG_RC         = 8'h30;   // Msg, 4DW, routed to the Root Complex
    localparam logic [3:0] PRG_RSP_SUCCESS   = 4'h0;
    localparam logic [3:0] PRG_RSP_INVALID   = 4'h1;    // 2..0xF: Response Failure (0xF) or unused (as 0xF)
    // outcome of a page request to the waiting DMA side (imsdev_pri done_res)
    localparam logic [1:0] PR_SUCCESS = 2'd0;           // re-translate
    localparam logic [1:0] PR_INVALID = 2'd1;           // Invalid Request: status 0x04 (| 0x80 for a write)
    localparam logic [1:0] PR_FAIL    = 2'd2;           // RF, PRI reset or PRI unusable: as without BOF

    localparam int SZ_W = 6;                            // size field width (0..52)
    localparam logic [SZ_W-1:0] SZ_ALL = 6'd52;

    // The 8 payload bytes (byte k = bits 8k+7:8k, byte 0 first on the link) as the 64-bit entry.
    function automatic logic [63:0] entry_from_payload(input logic [63:0] p);
        logic [31:0] dw0, dw1;
        dw0 = {p[7:0], p[15:8], p[23:16], p[31:24]};
        dw1 = {p[39:32], p[47:40], p[55:48], p[63:56]};
        return ENTRY_DW0_HIGH ? {dw0, dw1} : {dw1, dw0};
    endfunction

    // S decode (PCIe Table 10-5): S = 0: one 4 KiB page; S = 1: 2^(13 + number of consecutive 1s from
    // address bit 12 up) bytes, i.e. that count + 1 in pages. All of 62:12 set (or 63:12) is "all" (52).
    // The count is the index of the lowest 0 among page bits 50:0 (51 if there is none): a priority encoder
    // (a loop of chained adders here made Yosys/ABC crawl, and was one more carry chain on the path).
    function automatic logic [SZ_W-1:0] s_decode(input logic s, input logic [51:0] page);
        logic [SZ_W-1:0] k;
        if (!s) return '0;
        k = SZ_W'(51);
        for (int i = 50; i >= 0; i--)
            if (!page[i]) k = SZ_W'(i);
        return k + 1'b1;
    endfunction

    // Low-bit mask of a size: the page-number bits inside one range of that size (bit i set when i < sz;
    // all 52 from 52 on). A thermometer decode, not (1 << sz) - 1: no shifter and 52-bit subtractor per use.
    function automatic logic [51:0] size_mask(input logic [SZ_W-1:0] sz);
        logic [51:0] m;
        for (int i = 0; i < 52; i++) m[i] = SZ_W'(i) < sz;
        return m;
    endfunction
endpackage

`default_nettype wire
