// Command and response codes of the DMA engine (imsdev_dma), shared with its user (the descriptor engine).
`default_nettype none

package imsdev_dma_pkg;
    // cmd_op (3 and 5..7 are invalid)
    localparam logic [2:0] DMA_OP_COPY  = 3'd0;   // read cmd_len bytes at cmd_src, write them at cmd_dst
    localparam logic [2:0] DMA_OP_FILL  = 3'd1;   // write cmd_len bytes at cmd_dst: byte at a = pattern byte (a - dst) % 8
    localparam logic [2:0] DMA_OP_WRITE = 3'd2;   // write cmd_len (<= 32) bytes of cmd_wdata at cmd_dst (byte k = wdata[8k+7:8k])
    // read cmd_len (<= 64) bytes at cmd_src into rsp_data (byte k = bits 8k+7:8k) instead of writing them:
    // the descriptor engine's batch fetch. cmd_src must be 64-byte aligned (a whole descriptor).
    localparam logic [2:0] DMA_OP_FETCH = 3'd4;

    // rsp_status. Every command gets exactly one response; rsp_bytes counts the destination bytes written
    // (all of them for DMA_OK; for a failed COPY the leading bytes written before the engine stopped).
    localparam logic [3:0] DMA_OK             = 4'd0;
    localparam logic [3:0] DMA_READ_UR        = 4'd1;   // a completion for the source read had status UR
    localparam logic [3:0] DMA_READ_CA        = 4'd2;   // ... status CA (or any other non-SC status)
    localparam logic [3:0] DMA_READ_POISONED  = 4'd3;   // ... was poisoned (EP)
    localparam logic [3:0] DMA_READ_TIMEOUT   = 4'd4;   // a source read got no (complete) answer in time
    localparam logic [3:0] DMA_INVALID        = 4'd5;   // unknown cmd_op, or DMA_OP_WRITE with cmd_len > 32
    // ATS (docs/ats_pri.md 2.6): the translation of a source page did not grant R, of a destination page did
    // not grant W (R = W = 0, U = 1 or the permission missing), or failed (UR, CA, malformed, timeout).
    // rsp_bytes is then the bytes written before the engine stopped.
    localparam logic [3:0] DMA_XL_READ_FAULT  = 4'd6;
    localparam logic [3:0] DMA_XL_WRITE_FAULT = 4'd7;
    localparam logic [3:0] DMA_XL_FAIL_RD     = 4'd8;
    localparam logic [3:0] DMA_XL_FAIL_WR     = 4'd9;
    // Block-on-Fault (docs/ats_pri.md 2.6): the page request for the denied page was answered Invalid Request.
    localparam logic [3:0] DMA_XL_READ_FAULT_IR  = 4'd10;
    localparam logic [3:0] DMA_XL_WRITE_FAULT_IR = 4'd11;
    // Page requests per denied page before the command ends as without BOF (at most PRI_RETRIES rounds of
    // page request + re-translation).
    localparam int PRI_RETRIES = 4;

    localparam int DMA_WRITE_MAX_BYTES = 32;
    localparam int DMA_FETCH_MAX_BYTES = 64;
endpackage

`default_nettype wire
