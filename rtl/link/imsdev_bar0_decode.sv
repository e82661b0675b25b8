// BAR0 region decoder: routes each DWORD access of the internal MMIO bus to the block that owns its
// region (generated CSR block, MSI-X table, MSI-X PBA, per-queue IMS tables). Offsets inside BAR0 that
// no block owns read as zero and ignore writes, so a driver probing a hole gets a defined answer.
// Region bases and sizes come from the generated register map package.
// The decoded request is registered (one request stage, taken when empty): the targets see their valid,
// offset and fields from flip-flops, one cycle after the MMIO bus presented them, so the completer's
// header decode and this region decode are not on the targets' address paths. Only one request is ever
// outstanding on the MMIO bus (the completer waits for each response), so the stage costs one cycle of
// latency per DWORD access and no throughput.
`default_nettype none

module imsdev_bar0_decode #(
    parameter int OFF_W      = 19,
    parameter int unsigned CSR_BASE   = 'h0,
    parameter int unsigned CSR_SIZE   = 'h1000,
    parameter int unsigned TBL_BASE   = 'h20000,
    parameter int unsigned TBL_SIZE   = 'h8000,
    parameter int unsigned PBA_BASE   = 'h28000,
    parameter int unsigned PBA_SIZE   = 'h1000,
    parameter int unsigned IMS_BASE   = 'h40000,
    parameter int unsigned IMS_SIZE   = 'h40000
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic             req_valid,
    output      logic             req_ready,
    input  wire logic             req_write,
    input  wire logic [OFF_W-1:2] req_addr,
    input  wire logic [31:0]      req_wdata,
    input  wire logic [3:0]       req_be,
    output      logic             rsp_valid,
    output      logic [31:0]      rsp_rdata,

    // Targets share the request fields; each has its own valid/ready and response. *_off is the DWORD
    // offset inside the target's region.
    output      logic             csr_valid,
    input  wire logic             csr_ready,
    input  wire logic             csr_rsp_valid,
    input  wire logic [31:0]      csr_rsp_rdata,

    output      logic             msix_valid,
    output      logic             msix_pba,
    input  wire logic             msix_ready,
    input  wire logic             msix_rsp_valid,
    input  wire logic [31:0]      msix_rsp_rdata,

    output      logic             ims_valid,
    input  wire logic             ims_ready,
    input  wire logic             ims_rsp_valid,
    input  wire logic [31:0]      ims_rsp_rdata,

    // A dropped write: PARTIAL (byte enables not all set in the MSI-X table / IMS, where only whole
    // DWORDs are defined) or RO_WRITE (the PBA). Pulses with the code of imsdev_map_pkg::MMIO_ERR_*.
    output      logic             err_valid,
    output      logic [7:0]       err_code,
    output      logic [OFF_W-1:0] err_addr,

    output      logic [OFF_W-1:2] tgt_off,
    output      logic             tgt_write,
    output      logic [31:0]      tgt_wdata,
    output      logic [3:0]       tgt_be
);
    initial begin
        if (CSR_BASE % 4096 != 0 || TBL_BASE % 4096 != 0 || PBA_BASE % 4096 != 0 || IMS_BASE % 4096 != 0)
            $fatal(1, "imsdev_bar0_decode: every region must start on a 4 KiB page (MSI-X structures may not share a page with other registers)");
        if (IMS_BASE + IMS_SIZE > (1 << OFF_W) || PBA_BASE + PBA_SIZE > (1 << OFF_W) || TBL_BASE + TBL_SIZE > (1 << OFF_W))
            $fatal(1, "imsdev_bar0_decode: a region does not fit in BAR0");
    end

    localparam int AW = OFF_W;
    wire [AW-1:0] byte_addr = {req_addr, 2'b00};

    function automatic logic in_region(input logic [AW-1:0] a, input int unsigned base, input int unsigned size);
        return 32'(a) >= base && 32'(a) < base + size;
    endfunction

    wire hit_csr = in_region(byte_addr, CSR_BASE, CSR_SIZE);
    wire hit_tbl = in_region(byte_addr, TBL_BASE, TBL_SIZE);
    wire hit_pba = in_region(byte_addr, PBA_BASE, PBA_SIZE);
    wire hit_ims = in_region(byte_addr, IMS_BASE, IMS_SIZE);
    wire hit_none = !(hit_csr || hit_tbl || hit_pba || hit_ims);
    wire drop_partial = req_write && req_be != 4'hF && (hit_tbl || hit_ims);
    wire drop_ro      = req_write && hit_pba;
    // Holes and dropped writes are answered here, on the next cycle, without reaching a target.
    wire answer_here  = hit_none || drop_partial || drop_ro;

    // base[1:0] is always 0 (regions are page aligned); only its DWORD bits are used.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [AW-1:0] base;
    /* verilator lint_on UNUSEDSIGNAL */
    always_comb begin
        base = '0;
        if (hit_tbl) base = AW'(TBL_BASE);
        if (hit_pba) base = AW'(PBA_BASE);
        if (hit_ims) base = AW'(IMS_BASE);
        if (hit_csr) base = AW'(CSR_BASE);
    end
    // ---------------------------------------------------------------- request stage
    logic          s_valid_q, s_csr_q, s_msix_q, s_pba_q, s_ims_q;
    logic [AW-1:2] s_off_q;
    logic          s_write_q;
    logic [31:0]   s_wdata_q;
    logic [3:0]    s_be_q;

    wire take = req_valid && !s_valid_q;
    assign req_ready = !s_valid_q;

    assign tgt_off   = s_off_q;
    assign tgt_write = s_write_q;
    assign tgt_wdata = s_wdata_q;
    assign tgt_be    = s_be_q;

    assign csr_valid  = s_valid_q && s_csr_q;
    assign msix_valid = s_valid_q && s_msix_q;
    assign msix_pba   = s_pba_q;
    assign ims_valid  = s_valid_q && s_ims_q;

    // The staged request leaves when its target takes it (csr/msix/ims ready). Holes and dropped writes
    // are answered here (hole_rsp_q) and never enter the stage.
    logic s_ready;
    always_comb begin
        s_ready = 1'b0;
        if (s_csr_q)  s_ready = csr_ready;
        if (s_msix_q) s_ready = msix_ready;
        if (s_ims_q)  s_ready = ims_ready;
    end

    logic hole_rsp_q;
    always_ff @(posedge clk) begin
        if (take) begin
            s_csr_q   <= hit_csr;
            s_msix_q  <= (hit_tbl || hit_pba) && !answer_here;
            s_pba_q   <= hit_pba;
            s_ims_q   <= hit_ims && !answer_here;
            s_off_q   <= req_addr - base[AW-1:2];
            s_write_q <= req_write;
            s_wdata_q <= req_wdata;
            s_be_q    <= req_be;
        end
        if (rst) begin
            s_valid_q  <= 1'b0;
            hole_rsp_q <= 1'b0;
            err_valid  <= 1'b0;
            err_code   <= '0;
            err_addr   <= '0;
        end else begin
            if (take)                    s_valid_q <= !answer_here;
            else if (s_valid_q && s_ready) s_valid_q <= 1'b0;
            // the first enabled byte of the DWORD dropped (ERR_ADDR: the access's first byte, regs/imsdev.rdl)
            err_addr   <= {req_addr, imsdev_tlp_pkg::be_first(req_be)};
            hole_rsp_q <= take && answer_here;
            err_valid  <= take && (drop_partial || drop_ro);
            err_code   <= drop_ro ? imsdev_map_pkg::MMIO_ERR_RO_WRITE : imsdev_map_pkg::MMIO_ERR_PARTIAL;
        end
    end

    // Only one request is outstanding, so at most one target answers in a cycle.
    assign rsp_valid = hole_rsp_q || csr_rsp_valid || msix_rsp_valid || ims_rsp_valid;
    assign rsp_rdata = (csr_rsp_valid  ? csr_rsp_rdata  : 32'd0)
                     | (msix_rsp_valid ? msix_rsp_rdata : 32'd0)
                     | (ims_rsp_valid  ? ims_rsp_rdata  : 32'd0);
endmodule

`default_nettype wire
