// Work-queue portals (BAR2, one 4 KiB page per WQ): turns ENQCMD-style DMWr and MOVDIR64B-style posted
// writes into queued descriptors, answers every non-posted request, and reports rejected submissions.
// The outcome of every kind of request is the table in docs/work_queues.md. A submission is queued whole
// or not at all: the 64-byte payload is collected first and the decision is made once, at the end.
`default_nettype none

module imsdev_portal #(
    parameter int NUM_WQ = 8,
    parameter int DATA_W = 256,
    localparam int WQW   = (NUM_WQ > 1) ? $clog2(NUM_WQ) : 1
) (
    input  wire logic                  clk,
    input  wire logic                  rst,
    input  wire logic [15:0]           cfg_bdf,
    input  wire logic                  cfg_pasid_en,
    input  wire logic                  cfg_pasid_priv_en,

    // BAR2 requests
    input  wire logic                  rx_valid,
    output      logic                  rx_ready,
    input  wire logic                  rx_sop,
    input  wire logic                  rx_eop,
    input  wire logic [127:0]          rx_hdr,
    input  wire logic                  rx_prfx_valid,
    input  wire logic [31:0]           rx_prfx,
    input  wire logic [DATA_W-1:0]     rx_data,

    // Completions for DMWr / MRd
    output      logic                  tx_cpl_valid,
    input  wire logic                  tx_cpl_ready,
    output      logic [127:0]          tx_cpl_hdr,

    // Work-queue state (from imsdev_wq_mgr)
    input  wire logic [NUM_WQ-1:0]     wq_accepting,   // enabled and neither draining nor disabling
    input  wire logic [NUM_WQ-1:0]     wq_full,
    input  wire logic [NUM_WQ-1:0]     wq_dedicated,
    input  wire logic [NUM_WQ-1:0]     wq_priv,
    input  wire logic [NUM_WQ-1:0]     wq_pasid_en,
    input  wire logic [NUM_WQ*20-1:0]  wq_pasid,

    // Accepted descriptor: always taken by the queue manager in the same cycle.
    output      logic                  enq_valid,
    output      logic [WQW-1:0]        enq_wq,
    output      logic [511:0]          enq_desc,
    output      logic                  enq_pasid_valid,
    output      logic [19:0]           enq_pasid,
    output      logic                  enq_priv,

    // Rejected submission (code from imsdev_map_pkg::SWERR_*)
    output      logic                  err_valid,
    output      logic [7:0]            err_code,
    output      logic                  err_wq_valid,
    output      logic [7:0]            err_wq,
    output      logic [19:0]           err_pasid,
    output      logic                  err_priv,
    output      logic [31:0]           err_addr
);
    import imsdev_tlp_pkg::*;
    import imsdev_map_pkg::*;

    localparam int BEATS = (512 + DATA_W - 1) / DATA_W;   // beats of a 64-byte payload
    initial begin
        if (NUM_WQ < 1 || NUM_WQ > 8) $fatal(1, "imsdev_portal: NUM_WQ (%0d) must be 1..8", NUM_WQ);
        if (DATA_W < 64 || DATA_W > 512 || (DATA_W & (DATA_W - 1)) != 0) $fatal(1, "imsdev_portal: DATA_W must be 64..512, a power of two");
    end

    typedef enum logic [1:0] {S_RECV, S_DECIDE, S_CPL} state_e;
    state_e state_q;

    logic [127:0]      hdr_q;
    logic              prfx_valid_q;
    // Prefix bit 22 (ER, execute requested) means nothing for a descriptor write; [21:20] are reserved.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0]       prfx_q;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [511:0]      desc_q;
    logic [3:0]        beat_q;
    logic              in_tlp_q;      // between sop and eop
    logic [2:0]        cpl_status_q;

    wire [7:0]  ft       = hdr_q[127:120];
    wire        is_dmwr  = (ft == FT_DMWR32) || (ft == FT_DMWR64);
    wire        is_mwr   = (ft == FT_MWR32) || (ft == FT_MWR64);
    wire        is_mrd   = (ft == FT_MRD32) || (ft == FT_MRD64);
    wire        is_posted = is_mwr || (ft[4:3] == 2'b10);
    /* verilator lint_off UNUSEDSIGNAL */   // portal pages need address bits [14:0] only
    wire [31:0] addr     = hdr_addr_lo(hdr_q);
    /* verilator lint_on UNUSEDSIGNAL */
    wire [2:0]  page     = addr[14:12];
    wire        wq_exists = 32'(page) < NUM_WQ;
    wire [WQW-1:0] wq    = WQW'(page);
    wire        size_ok  = hdr_q[105:96] == 10'd16 && hdr_q[71:68] == 4'hF && hdr_q[67:64] == 4'hF
                        && addr[5:0] == 6'd0;
    wire        poisoned = hdr_q[110];
    wire        pmr      = prfx_q[23];
    wire [19:0] prfx_pasid = prfx_q[19:0];
    wire        prefix_ok = prfx_valid_q && prfx_q[31:24] == PASID_PREFIX_BYTE0;

    assign rx_ready = (state_q == S_RECV);

    // Decision for the captured request.
    logic       d_enq, d_cpl, d_err;
    logic [2:0] d_status;
    logic [7:0] d_code;
    always_comb begin
        d_enq = 1'b0;
        d_cpl = !is_posted;
        d_err = 1'b1;
        d_status = CPL_UR;
        d_code = SWERR_PORTAL_MODE;
        if (is_mrd) begin
            d_code = SWERR_PORTAL_READ;
        end else if (!wq_exists) begin
            d_code = SWERR_PORTAL_NO_WQ;
        end else if (is_dmwr) begin
            if (poisoned) begin
                d_code = SWERR_PORTAL_SIZE;    // PCIe: a poisoned DMWr gets UR (or RRS)
            end else if (!size_ok) begin
                d_status = CPL_CA;
                d_code   = SWERR_PORTAL_SIZE;
            end else if (wq_dedicated[wq]) begin
                d_code = SWERR_PORTAL_MODE;
            end else if (!prefix_ok) begin
                d_code = SWERR_PORTAL_NO_PASID;
            end else if (!cfg_pasid_en || (pmr && !cfg_pasid_priv_en)) begin
                d_code = SWERR_PORTAL_PASID_OFF;
            end else if (pmr && !wq_priv[wq]) begin
                d_code = SWERR_PORTAL_PRIV;
            end else if (!wq_accepting[wq] || wq_full[wq]) begin
                d_err    = 1'b0;            // a retry is not an error: the host tries again
                d_status = CPL_RRS;
            end else begin
                d_err    = 1'b0;
                d_status = CPL_SC;
                d_enq    = 1'b1;
            end
        end else if (is_mwr) begin
            if (!size_ok || poisoned)    d_code = SWERR_PORTAL_SIZE;
            else if (!wq_dedicated[wq])  d_code = SWERR_PORTAL_MODE;
            else if (!wq_accepting[wq])  d_code = SWERR_DWQ_DISABLED;
            else if (wq_full[wq])        d_code = SWERR_DWQ_FULL;
            else begin
                d_err = 1'b0;
                d_enq = 1'b1;
            end
        end else if (is_posted) begin
            d_err = 1'b0;                // messages to a portal are ignored
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            state_q      <= S_RECV;
            hdr_q        <= '0;
            prfx_valid_q <= 1'b0;
            prfx_q       <= '0;
            desc_q       <= '0;
            beat_q       <= '0;
            in_tlp_q     <= 1'b0;
            cpl_status_q <= CPL_SC;
        end else begin
            case (state_q)
                S_RECV: if (rx_valid) begin
                    if (rx_sop) begin
                        hdr_q        <= rx_hdr;
                        prfx_valid_q <= rx_prfx_valid;
                        prfx_q       <= rx_prfx;
                        beat_q       <= 4'd1;
                    end else if (32'(beat_q) < BEATS) begin
                        beat_q <= beat_q + 1'b1;
                    end
                    // Collect the first 64 payload bytes; anything longer is rejected by size_ok.
                    if (rx_sop) desc_q[0 +: DATA_W] <= rx_data;
                    else if (32'(beat_q) < BEATS) desc_q[32'(beat_q) * DATA_W +: DATA_W] <= rx_data;
                    in_tlp_q <= !rx_eop;
                    if (rx_eop) state_q <= S_DECIDE;
                end
                S_DECIDE: begin
                    cpl_status_q <= d_status;
                    state_q      <= d_cpl ? S_CPL : S_RECV;
                end
                S_CPL: if (tx_cpl_ready) state_q <= S_RECV;
                default: state_q <= S_RECV;
            endcase
        end
    end

    assign enq_valid       = (state_q == S_DECIDE) && d_enq;
    assign enq_wq          = wq;
    assign enq_desc        = desc_q;
    assign enq_pasid_valid = is_dmwr ? 1'b1 : wq_pasid_en[wq];
    assign enq_pasid       = is_dmwr ? prfx_pasid : wq_pasid[32'(wq) * 20 +: 20];
    assign enq_priv        = is_dmwr ? pmr : wq_priv[wq];

    assign err_valid    = (state_q == S_DECIDE) && d_err;
    assign err_code     = d_code;
    assign err_wq_valid = wq_exists;
    assign err_wq       = 8'(page);
    assign err_pasid    = prfx_valid_q ? prfx_pasid : 20'd0;
    assign err_priv     = prfx_valid_q && pmr;
    assign err_addr     = {17'd0, addr[14:0]};

    assign tx_cpl_valid = (state_q == S_CPL);
    assign tx_cpl_hdr   = cpl_hdr(1'b0, cpl_status_q, cfg_bdf, hdr_req_id(hdr_q), hdr_tag(hdr_q), hdr_tc(hdr_q),
                                  hdr_attr(hdr_q), 10'd0, 12'd4, 7'd0);

    // in_tlp_q documents the stream position; it is only used by assertions.
    always_ff @(posedge clk) begin
        if (!rst && state_q == S_RECV && rx_valid && !rx_sop && !in_tlp_q) $error("imsdev_portal: beat without sop");
    end
endmodule

`default_nettype wire
