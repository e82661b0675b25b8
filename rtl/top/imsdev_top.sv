// Top level of the IMS-capable multi-queue device: wires the blocks that each own one concern.
//
//   rx_req --> imsdev_mmio_completer --> MMIO DWORD bus --> imsdev_bar0_decode --+--> imsdev_csr (generated)
//   tx_cpl <--/                                                                  +--> imsdev_msix (table, PBA)
//   tx_req <-- imsdev_msg_tx <-- imsdev_msix message engine <-- interrupt requests
//
// The TLP streams and configuration sideband are documented in docs/tlp_interface.md; the BAR0 map in
// docs/registers.md (generated from regs/imsdev.rdl).
`default_nettype none

module imsdev_top #(
    parameter int NUM_WQ       = 8,
    parameter int WQ_DEPTH     = 32,
    parameter int IMS_PER_WQ   = 256,
    parameter int MSIX_VECTORS = 2048,
    parameter int DATA_W       = 256
) (
    input  wire logic              clk,
    input  wire logic              rst,

    // Configuration sideband from the link (the function's config space lives there)
    input  wire logic [15:0]       cfg_bdf,
    input  wire logic              cfg_bus_master_en,
    input  wire logic              cfg_msix_en,
    input  wire logic              cfg_msix_fn_mask,
    input  wire logic              cfg_pasid_en,
    input  wire logic              cfg_pasid_exec_en,
    input  wire logic              cfg_pasid_priv_en,
    input  wire logic [2:0]        cfg_max_payload,
    input  wire logic [2:0]        cfg_max_read_req,
    input  wire logic              flr,

    // Requests from the host (completer side)
    input  wire logic              rx_req_valid,
    output      logic              rx_req_ready,
    input  wire logic              rx_req_sop,
    input  wire logic              rx_req_eop,
    input  wire logic [127:0]      rx_req_hdr,
    input  wire logic              rx_req_prfx_valid,
    input  wire logic [31:0]       rx_req_prfx,
    input  wire logic [DATA_W-1:0] rx_req_data,
    input  wire logic [2:0]        rx_req_bar,

    output      logic              tx_cpl_valid,
    input  wire logic              tx_cpl_ready,
    output      logic              tx_cpl_sop,
    output      logic              tx_cpl_eop,
    output      logic [127:0]      tx_cpl_hdr,
    output      logic              tx_cpl_prfx_valid,
    output      logic [31:0]       tx_cpl_prfx,
    output      logic [DATA_W-1:0] tx_cpl_data,

    // Requests from the device (requester side)
    output      logic              tx_req_valid,
    input  wire logic              tx_req_ready,
    output      logic              tx_req_sop,
    output      logic              tx_req_eop,
    output      logic [127:0]      tx_req_hdr,
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
    input  wire logic [DATA_W-1:0] rx_cpl_data
);
    import imsdev_map_pkg::*;

    initial begin
        if (NUM_WQ < 1 || NUM_WQ > 8) $fatal(1, "imsdev_top: NUM_WQ (%0d) must be 1..8 (one IMS window each)", NUM_WQ);
        if (WQ_DEPTH < 1 || WQ_DEPTH > 65535) $fatal(1, "imsdev_top: WQ_DEPTH (%0d) out of range", WQ_DEPTH);
        if (IMS_PER_WQ < 1 || IMS_PER_WQ > 2048) $fatal(1, "imsdev_top: IMS_PER_WQ (%0d) must be 1..2048", IMS_PER_WQ);
        if (DATA_W != 64 && DATA_W != 128 && DATA_W != 256 && DATA_W != 512) $fatal(1, "imsdev_top: DATA_W (%0d) must be 64, 128, 256 or 512", DATA_W);
    end

    // Function-level reset: everything but the link returns to its reset state.
    logic fn_rst_q;
    always_ff @(posedge clk) fn_rst_q <= rst || flr;

    // ------------------------------------------------------------------ completer and BAR0 decode
    logic        bus_req_valid, bus_req_ready, bus_req_write;
    logic [18:2] bus_req_addr;
    logic [31:0] bus_req_wdata;
    logic [3:0]  bus_req_be;
    logic        bus_rsp_valid;
    logic [31:0] bus_rsp_rdata;
    logic        mmio_err_valid;
    logic [7:0]  mmio_err_code;
    logic [31:0] mmio_err_addr;

    imsdev_mmio_completer #(.DATA_W(DATA_W), .BAR0_OFF_W(19)) u_completer (
        .clk, .rst(fn_rst_q), .cfg_bdf,
        .rx_req_valid, .rx_req_ready, .rx_req_sop, .rx_req_eop, .rx_req_hdr, .rx_req_data, .rx_req_bar,
        .tx_cpl_valid, .tx_cpl_ready, .tx_cpl_sop, .tx_cpl_eop, .tx_cpl_hdr, .tx_cpl_data,
        .bus_req_valid, .bus_req_ready, .bus_req_write, .bus_req_addr, .bus_req_wdata, .bus_req_be,
        .bus_rsp_valid, .bus_rsp_rdata,
        .err_valid(mmio_err_valid), .err_code(mmio_err_code), .err_addr(mmio_err_addr)
    );
    assign tx_cpl_prfx_valid = 1'b0;
    assign tx_cpl_prfx       = '0;

    logic        csr_valid, csr_ready, csr_rsp_valid;
    logic [31:0] csr_rsp_rdata;
    logic        msix_valid, msix_pba, msix_ready, msix_rsp_valid;
    logic [31:0] msix_rsp_rdata;
    logic        ims_valid;
    logic [18:2] tgt_off;
    logic        tgt_write;
    logic [31:0] tgt_wdata;
    logic [3:0]  tgt_be;
    logic        dec_err_valid;
    logic [7:0]  dec_err_code;
    logic [18:0] dec_err_addr;

    imsdev_bar0_decode #(
        .OFF_W(19),
        .CSR_BASE(32'(CSR_BASE)), .CSR_SIZE(CSR_SIZE),
        .TBL_BASE(32'(MSIX_TABLE_BASE)), .TBL_SIZE(MSIX_TABLE_SIZE),
        .PBA_BASE(32'(MSIX_PBA_BASE)), .PBA_SIZE(MSIX_PBA_SIZE),
        // The per-queue IMS windows arrive with the work queues; until then the region is a hole.
        .IMS_BASE(32'(IMS_BASE)), .IMS_SIZE(0)
    ) u_decode (
        .clk, .rst(fn_rst_q),
        .req_valid(bus_req_valid), .req_ready(bus_req_ready), .req_write(bus_req_write), .req_addr(bus_req_addr),
        .req_wdata(bus_req_wdata), .req_be(bus_req_be), .rsp_valid(bus_rsp_valid), .rsp_rdata(bus_rsp_rdata),
        .csr_valid, .csr_ready, .csr_rsp_valid, .csr_rsp_rdata,
        .msix_valid, .msix_pba, .msix_ready, .msix_rsp_valid, .msix_rsp_rdata,
        .ims_valid, .ims_ready(1'b1), .ims_rsp_valid(1'b0), .ims_rsp_rdata(32'd0),
        .err_valid(dec_err_valid), .err_code(dec_err_code), .err_addr(dec_err_addr),
        .tgt_off, .tgt_write, .tgt_wdata, .tgt_be
    );

    // ------------------------------------------------------------------ generated CSR block
    imsdev_csr_pkg::imsdev_csr__in_t  hwif_in;
    imsdev_csr_pkg::imsdev_csr__out_t hwif_out;
    logic csr_stall_wr, csr_stall_rd, csr_rd_ack, csr_wr_ack;
    // The block is generated without error responses (no external registers, unmapped CSR offsets read
    // 0 like every other hole in BAR0), so its error outputs stay 0 and are not used.
    logic csr_rd_err, csr_wr_err;
    logic [31:0] csr_rd_data;

    imsdev_csr u_csr (
        .clk, .rst(fn_rst_q),
        .s_cpuif_req(csr_valid && csr_ready),
        .s_cpuif_req_is_wr(tgt_write),
        .s_cpuif_addr(CSR_ADDR_W'({tgt_off, 2'b00})),
        .s_cpuif_wr_data(tgt_wdata),
        .s_cpuif_wr_biten({{8{tgt_be[3]}}, {8{tgt_be[2]}}, {8{tgt_be[1]}}, {8{tgt_be[0]}}}),
        .s_cpuif_req_stall_wr(csr_stall_wr),
        .s_cpuif_req_stall_rd(csr_stall_rd),
        .s_cpuif_rd_ack(csr_rd_ack),
        .s_cpuif_rd_err(csr_rd_err),
        .s_cpuif_rd_data(csr_rd_data),
        .s_cpuif_wr_ack(csr_wr_ack),
        .s_cpuif_wr_err(csr_wr_err),
        .hwif_in, .hwif_out
    );
    // The generated block answers in the request cycle; the MMIO bus expects the answer later, so the
    // response is registered. A trigger write also waits for room in the trigger FIFO so it is never lost.
    logic trig_fifo_ready;
    assign csr_ready = tgt_write ? (!csr_stall_wr && trig_fifo_ready) : !csr_stall_rd;
    always_ff @(posedge clk) begin
        if (fn_rst_q) begin
            csr_rsp_valid <= 1'b0;
            csr_rsp_rdata <= '0;
        end else begin
            csr_rsp_valid <= csr_rd_ack || csr_wr_ack;
            csr_rsp_rdata <= csr_rd_data;
        end
    end

    // Capabilities are the build's parameters.
    assign hwif_in.CAP0.NUM_WQ.next            = 8'(NUM_WQ);
    assign hwif_in.CAP0.WQ_DEPTH.next          = 16'(WQ_DEPTH);
    assign hwif_in.CAP1.IMS_PER_WQ.next        = 16'(IMS_PER_WQ);
    assign hwif_in.CAP2.MSIX_VECTORS.next      = 12'(MSIX_VECTORS);
    assign hwif_in.CAP2.DATA_BYTES.next        = 8'(DATA_W / 8);

    // MMIO error capture. Sources: the completer (request shape), the decoder (dropped writes) and the
    // self-test trigger (vector out of range). MMIO is handled one access at a time, so they do not
    // coincide in practice; if they did, the first by priority is recorded and OVERFLOW is set.
    logic        trig_bad_q;
    logic [31:0] trig_addr_q;
    logic        err_valid;
    logic [7:0]  err_code;
    logic [31:0] err_addr;
    always_comb begin
        err_valid = mmio_err_valid || dec_err_valid || trig_bad_q;
        err_code  = mmio_err_code;
        err_addr  = mmio_err_addr;
        if (!mmio_err_valid && dec_err_valid) begin
            err_code = dec_err_code;
            err_addr = 32'(dec_err_addr);
        end else if (!mmio_err_valid && !dec_err_valid) begin
            err_code = MMIO_ERR_UNSUPPORTED;
            err_addr = trig_addr_q;
        end
    end
    wire err_several = (32'(mmio_err_valid) + 32'(dec_err_valid) + 32'(trig_bad_q)) > 1;
    wire err_capture = err_valid && !hwif_out.ERR.VALID.value;
    assign hwif_in.ERR.VALID.hwset      = err_valid;
    assign hwif_in.ERR.OVERFLOW.hwset   = err_valid && (hwif_out.ERR.VALID.value || err_several);
    assign hwif_in.ERR.CODE.next        = err_code;
    assign hwif_in.ERR.CODE.we          = err_capture;
    assign hwif_in.ERR_ADDR.OFFSET.next = err_addr;
    assign hwif_in.ERR_ADDR.OFFSET.we   = err_capture;

    // Interrupt causes. ERR_LOG belongs to the work-queue error log (later); it can be set by INT_TEST.
    assign hwif_in.INT_CAUSE.SW_TEST.hwset  = hwif_out.INT_TEST.SW_TEST.value;
    assign hwif_in.INT_CAUSE.ERR_LOG.hwset  = hwif_out.INT_TEST.ERR_LOG.value;
    assign hwif_in.INT_CAUSE.MMIO_ERR.hwset = hwif_out.INT_TEST.MMIO_ERR.value || err_valid;

    wire cause_active = (hwif_out.INT_CAUSE.SW_TEST.value  && hwif_out.INT_ENABLE.SW_TEST.value)
                     || (hwif_out.INT_CAUSE.ERR_LOG.value  && hwif_out.INT_ENABLE.ERR_LOG.value)
                     || (hwif_out.INT_CAUSE.MMIO_ERR.value && hwif_out.INT_ENABLE.MMIO_ERR.value);

    // Vector 0 is requested on each 0 -> non-zero edge of (INT_CAUSE & INT_ENABLE) and held until the
    // MSI-X engine takes it, so an edge is never lost behind other interrupt traffic.
    logic cause_active_q, vec0_req_q;
    logic irq_valid, irq_ready;
    logic [15:0] irq_vector;
    logic trig_valid;
    logic [11:0] trig_vector;
    logic [2:0]  trig_fifo_count;

    // MSIX_TRIGGER writes queue here; a vector outside the table is reported instead of requested.
    // swmod pulses in the write cycle and the field holds the written value from the next cycle on.
    logic trig_write;
    always_ff @(posedge clk) trig_write <= !fn_rst_q && hwif_out.MSIX_TRIGGER.VECTOR.swmod;
    wire trig_in_range = 32'(hwif_out.MSIX_TRIGGER.VECTOR.value) < MSIX_VECTORS;
    imsdev_fifo #(.WIDTH(12), .DEPTH(4)) u_trig_fifo (
        .clk, .rst(fn_rst_q),
        .in_valid(trig_write && trig_in_range), .in_ready(trig_fifo_ready),
        .in_data(hwif_out.MSIX_TRIGGER.VECTOR.value),
        .out_valid(trig_valid), .out_ready(irq_ready && !vec0_req_q), .out_data(trig_vector),
        .count(trig_fifo_count)
    );

    always_ff @(posedge clk) begin
        if (fn_rst_q) begin
            cause_active_q <= 1'b0;
            vec0_req_q     <= 1'b0;
            trig_bad_q     <= 1'b0;
            trig_addr_q    <= '0;
        end else begin
            cause_active_q <= cause_active;
            if (cause_active && !cause_active_q) vec0_req_q <= 1'b1;
            else if (irq_ready)                  vec0_req_q <= 1'b0;
            trig_bad_q  <= trig_write && !trig_in_range;
            trig_addr_q <= 32'(CSR_MSIX_TRIGGER);
        end
    end
    // The cause interrupt (vector 0) goes first; self-test triggers follow in write order.
    assign irq_valid  = vec0_req_q || trig_valid;
    assign irq_vector = vec0_req_q ? 16'd0 : 16'(trig_vector);

    // ------------------------------------------------------------------ MSI-X
    logic        msg_valid, msg_ready;
    logic [63:0] msg_addr;
    logic [31:0] msg_data;
    logic        msix_init_busy, msix_bad_vector;

    imsdev_msix #(.VECTORS(MSIX_VECTORS), .OFF_W(17)) u_msix (
        .clk, .rst(fn_rst_q),
        .cfg_msix_en, .cfg_msix_fn_mask, .cfg_bus_master_en,
        .req_valid(msix_valid), .req_ready(msix_ready), .req_write(tgt_write), .req_pba(msix_pba),
        .req_off(tgt_off[18:2]), .req_wdata(tgt_wdata), .req_be(tgt_be),
        .rsp_valid(msix_rsp_valid), .rsp_rdata(msix_rsp_rdata),
        .irq_valid, .irq_ready, .irq_vector, .irq_bad_vector(msix_bad_vector),
        .msg_valid, .msg_ready, .msg_addr, .msg_data,
        .init_busy(msix_init_busy)
    );

    imsdev_msg_tx #(.DATA_W(DATA_W)) u_msg_tx (
        .clk, .rst(fn_rst_q), .cfg_bdf,
        .msg_valid, .msg_ready, .msg_addr, .msg_data,
        .tx_valid(tx_req_valid), .tx_ready(tx_req_ready), .tx_sop(tx_req_sop), .tx_eop(tx_req_eop),
        .tx_hdr(tx_req_hdr), .tx_prfx_valid(tx_req_prfx_valid), .tx_prfx(tx_req_prfx), .tx_data(tx_req_data)
    );

    // ------------------------------------------------------------------ not yet used by this release
    // Completions for device reads arrive once the descriptor engine issues DMA reads; until then they
    // are accepted and discarded. PASID controls and MPS/MRRS likewise feed the work-queue blocks.
    assign rx_cpl_ready = 1'b1;
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, rx_cpl_valid, rx_cpl_sop, rx_cpl_eop, rx_cpl_hdr, rx_cpl_prfx_valid, rx_cpl_prfx,
                       rx_cpl_data, rx_req_prfx_valid, rx_req_prfx, cfg_pasid_en, cfg_pasid_exec_en,
                       cfg_pasid_priv_en, cfg_max_payload, cfg_max_read_req, ims_valid, msix_init_busy,
                       msix_bad_vector, csr_rd_err, csr_wr_err, trig_fifo_count};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
