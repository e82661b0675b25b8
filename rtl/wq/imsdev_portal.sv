// Work-queue portals (BAR2, one 4 KiB page per WQ): turns ENQCMD-style DMWr and MOVDIR64B-style posted
// writes into queued descriptors, answers every non-posted request, and reports rejected submissions.
// The outcome of every kind of request is the table in docs/work_queues.md. A submission is queued whole
// or not at all: the payload is collected and the decision is made once, on the last beat. Deciding on
// that beat and queueing completions in a small FIFO lets back-to-back submissions arrive at link rate
// (one 64-byte descriptor per 64/(DATA_W/8) cycles).
`default_nettype none

module imsdev_portal #(
    parameter int NUM_WQ = 8,
    parameter int DATA_W = 256,
    localparam int WQW   = (NUM_WQ > 1) ? $clog2(NUM_WQ) : 1,
    localparam int PAGE_BITS = (NUM_WQ > 1) ? $clog2(NUM_WQ) : 0,
    localparam int BAR2_BITS = 12 + PAGE_BITS,
    localparam int PAGE_W    = (PAGE_BITS > 0) ? PAGE_BITS : 1   // the page index inside BAR2
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
        if (NUM_WQ < 1 || NUM_WQ > 256) $fatal(1, "imsdev_portal: NUM_WQ (%0d) must be 1..256 (SWERR's 8-bit WQ field)", NUM_WQ);
        if (DATA_W < 64 || DATA_W > 512 || (DATA_W & (DATA_W - 1)) != 0) $fatal(1, "imsdev_portal: DATA_W must be 64..512, a power of two");
    end

    logic [127:0]  hdr_q;
    logic          prfx_valid_q;
    logic [31:0]   prfx_q;
    logic [511:0]  desc_q;
    logic [3:0]    beat_q;       // payload beats received so far in this TLP
    logic          in_tlp_q;     // between sop and eop

    // The request being decided is the one whose last beat is on the input now.
    wire           beat      = rx_valid && rx_ready;
    wire [127:0]   cur_hdr   = rx_sop ? rx_hdr : hdr_q;
    wire           cur_prfx_valid = rx_sop ? rx_prfx_valid : prfx_valid_q;
    /* verilator lint_off UNUSEDSIGNAL */  // prefix bit 22 (ER) means nothing for a descriptor write; [21:20] reserved
    wire [31:0]    cur_prfx  = rx_sop ? rx_prfx : prfx_q;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [3:0]     cur_beat  = rx_sop ? 4'd0 : beat_q;
    logic [511:0]  cur_desc;
    always_comb begin
        cur_desc = rx_sop ? '0 : desc_q;
        if (32'(cur_beat) < BEATS) cur_desc[32'(cur_beat) * DATA_W +: DATA_W] = rx_data;
    end
    wire decide = beat && rx_eop;

    // What the decision takes from the header and prefix alone, decoded from the input at a first beat and
    // from flip-flops (dec_q, loaded with the decode at each beat beside hdr_q) at a later one (Fmax, round
    // 16: the decode of hdr_q headed the whole design's worst path with seed 2, hdr_q -> decision -> enqueue
    // -> the WQ manager's tail and counts; a 64-byte descriptor spans 2 or 4 beats below a 512-bit bus, so
    // its decision is always made at a later beat). The WQ state (mode, privilege, acceptance, full) is
    // still read in the deciding cycle. A simulation check compares dec_q with the decode of hdr_q.
    typedef struct packed {
        logic                is_dmwr, is_mwr, is_mrd, is_posted;
        logic [BAR2_BITS-1:0] bar2_off;
        logic                wq_exists, size_ok, poisoned, pmr, prefix_ok;
    } dec_t;
    // (px: prefix bits 31:23, its type byte and PMR)
    function automatic dec_t decode(input logic [127:0] h, input logic pv, input logic [31:23] px);
        dec_t d;
        logic [7:0] ft;
        /* verilator lint_off UNUSEDSIGNAL */   // the address bits above BAR2_BITS are the BAR's base
        logic [31:0] a;
        /* verilator lint_on UNUSEDSIGNAL */
        ft          = h[127:120];
        // BAR2 is 4 KiB x 2^PAGE_BITS and may sit at any address aligned to its size: only the offset inside
        // it (the low BAR2_BITS address bits) selects the page; the bits above are the BAR's base.
        a           = hdr_addr_lo(h);
        d.is_dmwr   = (ft == FT_DMWR32) || (ft == FT_DMWR64);
        d.is_mwr    = (ft == FT_MWR32) || (ft == FT_MWR64);
        d.is_mrd    = (ft == FT_MRD32) || (ft == FT_MRD64);
        d.is_posted = d.is_mwr || (ft[4:3] == 2'b10);
        d.bar2_off  = a[BAR2_BITS-1:0];
        d.wq_exists = 32'(PAGE_W'(d.bar2_off >> 12)) < NUM_WQ;
        d.size_ok   = h[105:96] == 10'd16 && h[71:68] == 4'hF && h[67:64] == 4'hF && a[5:0] == 6'd0;
        d.poisoned  = h[110];
        d.pmr       = px[23];
        d.prefix_ok = pv && px[31:24] == PASID_PREFIX_BYTE0;
        return d;
    endfunction
    dec_t dec_q;
    wire dec_t cur_dec = rx_sop ? decode(rx_hdr, rx_prfx_valid, rx_prfx[31:23]) : dec_q;

    wire        is_dmwr  = cur_dec.is_dmwr;
    wire        is_mwr   = cur_dec.is_mwr;
    wire        is_mrd   = cur_dec.is_mrd;
    wire        is_posted = cur_dec.is_posted;
    wire [BAR2_BITS-1:0] bar2_off = cur_dec.bar2_off;
    wire [PAGE_W-1:0] page = PAGE_W'(bar2_off >> 12);
    wire        wq_exists = cur_dec.wq_exists;
    wire [WQW-1:0] wq    = WQW'(page);
    wire        size_ok  = cur_dec.size_ok;
    wire        poisoned = cur_dec.poisoned;
    wire        pmr      = cur_dec.pmr;
    wire [19:0] prfx_pasid = cur_prfx[19:0];
    wire        prefix_ok = cur_dec.prefix_ok;

    // The manager's count includes every enqueue up to the previous cycle, and a decision enqueues in the
    // cycle it is made, so wq_full is exact even for one-beat (512-bit) descriptors arriving back to back.
    wire full = wq_full[wq];

    // Completions wait in a FIFO so the next request can be received meanwhile; a request is taken only
    // while the FIFO has room for its completion.
    localparam int CPL_W = 3 + 16 + 8 + 3 + 3;
    logic             cpl_push, cpl_room;
    logic [CPL_W-1:0] cpl_head;
    logic [2:0]       cpl_fifo_count;
    assign rx_ready = cpl_room;

    // Decision for the request on the input.
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
            end else if (!wq_accepting[wq] || full) begin
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
            else if (full)               d_code = SWERR_DWQ_FULL;
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
            hdr_q         <= '0;
            dec_q         <= decode('0, 1'b0, '0);
            prfx_valid_q  <= 1'b0;
            prfx_q        <= '0;
            desc_q        <= '0;
            beat_q        <= '0;
            in_tlp_q      <= 1'b0;
        end else begin
            if (beat) begin
                hdr_q        <= cur_hdr;
                dec_q        <= cur_dec;
                prfx_valid_q <= cur_prfx_valid;
                prfx_q       <= cur_prfx;
                desc_q       <= cur_desc;
                beat_q       <= (32'(cur_beat) < BEATS) ? cur_beat + 1'b1 : cur_beat;
                in_tlp_q     <= !rx_eop;
            end
        end
    end

    assign cpl_push = decide && d_cpl;
    // (registered full flag, Fmax: rx_ready, and with it every beat and the decision, no longer waits on the
    // FIFO's pointer compare)
    imsdev_fifo #(.WIDTH(CPL_W), .DEPTH(4), .REG_READY(1'b1)) u_cpl_fifo (
        .clk, .rst,
        .in_valid(cpl_push), .in_ready(cpl_room),
        .in_data({d_status, hdr_req_id(cur_hdr), hdr_tag(cur_hdr), hdr_tc(cur_hdr), hdr_attr(cur_hdr)}),
        .out_valid(tx_cpl_valid), .out_ready(tx_cpl_ready), .out_data(cpl_head),
        .count(cpl_fifo_count)
    );

    assign enq_valid       = decide && d_enq;
    assign enq_wq          = wq;
    assign enq_desc        = cur_desc;
    assign enq_pasid_valid = is_dmwr ? 1'b1 : wq_pasid_en[wq];
    assign enq_pasid       = is_dmwr ? prfx_pasid : wq_pasid[32'(wq) * 20 +: 20];
    assign enq_priv        = is_dmwr ? pmr : wq_priv[wq];

    assign err_valid    = decide && d_err;
    assign err_code     = d_code;
    assign err_wq_valid = wq_exists;
    assign err_wq       = 8'(page);
    assign err_pasid    = cur_prfx_valid ? prfx_pasid : 20'd0;
    assign err_priv     = cur_prfx_valid && pmr;
    assign err_addr     = 32'(bar2_off);

    assign tx_cpl_hdr = cpl_hdr(1'b0, cpl_head[CPL_W-1 -: 3], cfg_bdf, cpl_head[CPL_W-4 -: 16], cpl_head[13:6],
                                cpl_head[5:3], cpl_head[2:0], 10'd0, 12'd4, 7'd0);

    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic checks_on_q;
    initial checks_on_q = 1'b0;
    always_ff @(posedge clk) if (rst) checks_on_q <= 1'b1;

    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && beat && !rx_sop && !in_tlp_q) $error("imsdev_portal: beat without sop");
        // the registered decode is the decode of the registered header and prefix
        if (checks_on_q && !rst && dec_q != decode(hdr_q, prfx_valid_q, prfx_q[31:23]))
            $error("imsdev_portal: registered header decode differs from the decode of hdr_q");
    end

    // cpl_fifo_count is for waveforms only.
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, cpl_fifo_count};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
