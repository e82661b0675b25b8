// Completer for register accesses: turns BAR0 memory reads and writes arriving on rx_req into DWORD
// accesses on the internal MMIO bus, and answers every non-posted request on tx_cpl.
//
// Defined outcomes (docs/programming_guide and the tests rely on them):
//  - BAR0 MRd/MWr of one DWORD (any byte enables) or one QWORD (8-byte aligned): performed.
//  - BAR0 MRd of any other size or alignment: Completer Abort (the access breaks the programming
//    model: registers, MSI-X and IMS are defined for DWORD/QWORD accesses only), error recorded.
//  - BAR0 MWr of another size/alignment, or poisoned: dropped, error recorded.
//  - Any other non-posted request this completer does not own (other BAR, DMWr without a portal,
//    locked or I/O requests): Unsupported Request; other posted requests: dropped, error recorded.
//  - A zero-length read (Length 1, First DW BE 0) returns one DWORD of zeros without touching a register.
// Accesses are done one DWORD at a time, in arrival order, and a read's completion is sent only after the
// read has been performed, so a read is ordered behind every earlier posted write (the flush rule the
// driver relies on).
`default_nettype none

module imsdev_mmio_completer #(
    parameter int DATA_W = 256,
    parameter int BAR0_OFF_W = 19   // BAR0 is 2^19 = 512 KiB
) (
    input  wire logic                  clk,
    input  wire logic                  rst,
    input  wire logic [15:0]           cfg_bdf,

    input  wire logic                  rx_req_valid,
    output      logic                  rx_req_ready,
    input  wire logic                  rx_req_sop,
    input  wire logic                  rx_req_eop,
    input  wire logic [127:0]          rx_req_hdr,
    /* verilator lint_off UNUSEDSIGNAL */  // register accesses carry at most a QWORD; longer ones are drained
    input  wire logic [DATA_W-1:0]     rx_req_data,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire logic [2:0]            rx_req_bar,

    output      logic                  tx_cpl_valid,
    input  wire logic                  tx_cpl_ready,
    output      logic                  tx_cpl_sop,
    output      logic                  tx_cpl_eop,
    output      logic [127:0]          tx_cpl_hdr,
    output      logic [DATA_W-1:0]     tx_cpl_data,

    // Internal MMIO bus: one request outstanding, exactly one bus_rsp_valid per request.
    output      logic                  bus_req_valid,
    input  wire logic                  bus_req_ready,
    output      logic                  bus_req_write,
    output      logic [BAR0_OFF_W-1:2] bus_req_addr,
    output      logic [31:0]           bus_req_wdata,
    output      logic [3:0]            bus_req_be,
    input  wire logic                  bus_rsp_valid,
    input  wire logic [31:0]           bus_rsp_rdata,

    // Error report: one pulse per rejected request.
    output      logic                  err_valid,
    output      logic [7:0]            err_code,
    output      logic [31:0]           err_addr
);
    import imsdev_tlp_pkg::*;

    initial begin
        if (DATA_W < 64 || DATA_W % 64 != 0) $fatal(1, "imsdev_mmio_completer: DATA_W (%0d) must be a multiple of 64", DATA_W);
        if (BAR0_OFF_W < 12 || BAR0_OFF_W > 32) $fatal(1, "imsdev_mmio_completer: BAR0_OFF_W out of range");
    end

    import imsdev_map_pkg::MMIO_ERR_WR_TOO_BIG, imsdev_map_pkg::MMIO_ERR_RD_TOO_BIG,
           imsdev_map_pkg::MMIO_ERR_UNALIGNED, imsdev_map_pkg::MMIO_ERR_UNSUPPORTED,
           imsdev_map_pkg::MMIO_ERR_POISONED;

    typedef enum logic [2:0] {S_IDLE, S_DRAIN, S_DECIDE, S_BUS_REQ, S_BUS_RSP, S_CPL} state_e;
    state_e state_q;

    logic [127:0] hdr_q;
    logic [2:0]   bar_q;
    logic [63:0]  wdata_q;
    logic [63:0]  rdata_q;
    logic         dw_idx_q;       // which DWORD of a QWORD access is in progress
    logic [2:0]   cpl_status_q;
    logic         cpl_with_data_q;

    wire [7:0]  ft       = hdr_fmt_type(hdr_q);
    wire [9:0]  len      = hdr_length(hdr_q);
    // Address bits [1:0] are 0 in a request header; the byte offset comes from the byte enables.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] addr     = hdr_addr_lo(hdr_q);
    /* verilator lint_on UNUSEDSIGNAL */
    wire [3:0]  first_be = hdr_first_be(hdr_q);
    wire [3:0]  last_be  = hdr_last_be(hdr_q);
    wire        is_mrd   = (ft == FT_MRD32) || (ft == FT_MRD64);
    wire        is_mwr   = (ft == FT_MWR32) || (ft == FT_MWR64);
    // Posted requests are memory writes and messages (Type 10rrr); everything else expects a completion.
    wire        is_posted = is_mwr || (ft[4:3] == 2'b10);
    wire        len_ok   = (len == 10'd1 && last_be == 4'h0) || len == 10'd2;
    wire        align_ok = len != 10'd2 || addr[2] == 1'b0;
    wire        size_ok  = len_ok && align_ok;
    wire        zero_len_read = is_mrd && len == 10'd1 && first_be == 4'h0;

    assign rx_req_ready = (state_q == S_IDLE) || (state_q == S_DRAIN);

    logic       err_valid_d;
    logic [7:0] err_code_d;

    always_ff @(posedge clk) begin
        if (rst) begin
            state_q         <= S_IDLE;
            hdr_q           <= '0;
            bar_q           <= '0;
            wdata_q         <= '0;
            rdata_q         <= '0;
            dw_idx_q        <= 1'b0;
            cpl_status_q    <= CPL_SC;
            cpl_with_data_q <= 1'b0;
            err_valid       <= 1'b0;
            err_code        <= '0;
            err_addr        <= '0;
        end else begin
            err_valid <= err_valid_d;
            if (err_valid_d) begin
                err_code <= err_code_d;
                err_addr <= 32'({addr[BAR0_OFF_W-1:2], be_first(first_be)});   // offset inside the BAR
            end
            case (state_q)
                S_IDLE: if (rx_req_valid && rx_req_sop) begin
                    hdr_q    <= rx_req_hdr;
                    bar_q    <= rx_req_bar;
                    wdata_q  <= rx_req_data[63:0];
                    rdata_q  <= '0;
                    dw_idx_q <= 1'b0;
                    state_q  <= rx_req_eop ? S_DECIDE : S_DRAIN;
                end
                S_DRAIN: if (rx_req_valid && rx_req_eop) state_q <= S_DECIDE;
                S_DECIDE: begin
                    cpl_with_data_q <= 1'b0;
                    cpl_status_q    <= CPL_SC;
                    if (bar_q == 3'd0 && (is_mrd || is_mwr) && size_ok && !hdr_poisoned(hdr_q)) begin
                        if (zero_len_read) begin
                            cpl_with_data_q <= 1'b1;
                            state_q         <= S_CPL;
                        end else if (is_mwr && first_be == 4'h0) begin
                            state_q <= S_IDLE;   // zero-length write: nothing to do
                        end else begin
                            state_q <= S_BUS_REQ;
                        end
                    end else if (is_posted) begin
                        state_q <= S_IDLE;
                    end else begin
                        cpl_status_q <= (bar_q == 3'd0 && is_mrd) ? CPL_CA : CPL_UR;
                        state_q      <= S_CPL;
                    end
                end
                S_BUS_REQ: if (bus_req_ready) state_q <= S_BUS_RSP;
                S_BUS_RSP: if (bus_rsp_valid) begin
                    if (!hdr_q[126]) rdata_q[dw_idx_q*32 +: 32] <= bus_rsp_rdata;
                    if (len == 10'd2 && !dw_idx_q) begin
                        dw_idx_q <= 1'b1;
                        state_q  <= S_BUS_REQ;
                    end else if (is_mrd) begin
                        cpl_with_data_q <= 1'b1;
                        state_q         <= S_CPL;
                    end else begin
                        state_q <= S_IDLE;
                    end
                end
                S_CPL: if (tx_cpl_ready) state_q <= S_IDLE;
                default: state_q <= S_IDLE;
            endcase
        end
    end

    always_comb begin
        err_valid_d = 1'b0;
        err_code_d  = MMIO_ERR_UNSUPPORTED;
        if (state_q == S_DECIDE) begin
            if (bar_q == 3'd0 && (is_mrd || is_mwr)) begin
                if (!len_ok) begin
                    err_valid_d = 1'b1;
                    err_code_d  = is_mwr ? MMIO_ERR_WR_TOO_BIG : MMIO_ERR_RD_TOO_BIG;
                end else if (!align_ok) begin
                    err_valid_d = 1'b1;
                    err_code_d  = MMIO_ERR_UNALIGNED;
                end else if (hdr_poisoned(hdr_q)) begin
                    err_valid_d = 1'b1;
                    err_code_d  = MMIO_ERR_POISONED;
                end
            end else begin
                err_valid_d = 1'b1;
            end
        end
    end

    // A QWORD write carries the second DWORD's enables in Last DW BE.
    wire [3:0] cur_be = dw_idx_q ? last_be : first_be;
    assign bus_req_valid = (state_q == S_BUS_REQ);
    assign bus_req_write = is_mwr;
    assign bus_req_addr  = addr[BAR0_OFF_W-1:2] + (BAR0_OFF_W-2)'(dw_idx_q);
    assign bus_req_wdata = wdata_q[dw_idx_q*32 +: 32];
    assign bus_req_be    = is_mwr ? cur_be : 4'hF;

    assign tx_cpl_valid = (state_q == S_CPL);
    assign tx_cpl_sop   = 1'b1;
    assign tx_cpl_eop   = 1'b1;
    assign tx_cpl_hdr   = cpl_hdr(cpl_with_data_q, cpl_status_q, cfg_bdf, hdr_req_id(hdr_q), hdr_tag(hdr_q),
                                  hdr_tc(hdr_q), hdr_attr(hdr_q), len,
                                  read_byte_count(len, first_be, last_be),
                                  {addr[6:2], be_first(first_be)});
    assign tx_cpl_data  = DATA_W'(rdata_q);
endmodule

`default_nettype wire
