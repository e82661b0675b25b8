// Descriptor engine: takes descriptors from the work queues one at a time, checks them, runs the
// operation on the DMA engine, writes the completion record and raises the completion interrupt
// (docs/work_queues.md).
//
// Order of a descriptor's effects, which the driver relies on:
//   data (DMA writes) -> completion record write -> interrupt request.
// The DMA engine answers a command only once its last write beat is on tx_req, and the interrupt
// message reaches tx_req through a later arbitration round, so the host always sees the record first.
// One descriptor executes at a time, so DRAIN and FENCE hold by construction.
`default_nettype none

module imsdev_desc_engine #(
    parameter int NUM_WQ       = 8,
    parameter int IMS_PER_WQ   = 256,
    parameter int MSIX_VECTORS = 2048,
    localparam int WQW         = (NUM_WQ > 1) ? $clog2(NUM_WQ) : 1
) (
    input  wire logic                 clk,
    input  wire logic                 rst,

    output      logic                 deq_req,
    input  wire logic                 deq_grant,
    input  wire logic                 deq_valid,
    input  wire logic [WQW-1:0]       deq_wq,
    input  wire logic [511:0]         deq_desc,
    input  wire logic                 deq_pasid_valid,
    input  wire logic [19:0]          deq_pasid,
    input  wire logic                 deq_priv,
    input  wire logic                 deq_discard,     // ABORT_PASID dropped this descriptor: back to idle
    output      logic                 busy_valid,
    output      logic [WQW-1:0]       busy_wq,

    input  wire logic [NUM_WQ*5-1:0]  wq_max_xfer_shift,

    // Interrupt handles (imsdev_int_handles): looked up when the descriptor arrives, used from S_CHECK.
    input  wire logic                 hdl_required,    // INTHDL_CTL.REQUIRED
    output      logic                 hdl_rd_en,
    output      logic [15:0]          hdl_rd_handle,
    output      logic [WQW-1:0]       hdl_rd_wq,
    input  wire logic                 hdl_granted,

    // DMA engine (imsdev_dma)
    output      logic                 dma_cmd_valid,
    input  wire logic                 dma_cmd_ready,
    output      logic [1:0]           dma_cmd_op,
    output      logic                 dma_cmd_pasid_valid,
    output      logic [19:0]          dma_cmd_pasid,
    output      logic                 dma_cmd_priv,
    output      logic [63:0]          dma_cmd_src,
    output      logic [63:0]          dma_cmd_dst,
    output      logic [31:0]          dma_cmd_len,
    output      logic [63:0]          dma_cmd_pattern,
    output      logic [255:0]         dma_cmd_wdata,
    input  wire logic                 dma_rsp_valid,
    output      logic                 dma_rsp_ready,
    input  wire logic [2:0]           dma_rsp_status,
    input  wire logic [31:0]          dma_rsp_bytes,

    // Completion interrupts
    output      logic                 ims_irq_valid,
    input  wire logic                 ims_irq_ready,
    output      logic [2:0]           ims_irq_wq,
    output      logic [15:0]          ims_irq_index,
    output      logic [19:0]          ims_irq_pasid,
    output      logic                 msix_irq_valid,
    input  wire logic                 msix_irq_ready,
    output      logic [15:0]          msix_irq_vector,

    // A failed descriptor without a usable completion record (SWERR NO_CR)
    output      logic                 err_valid,
    output      logic [7:0]           err_wq,
    output      logic [6:0]           err_status,
    output      logic [19:0]          err_pasid,
    output      logic                 err_priv,
    output      logic [7:0]           err_opcode,
    output      logic [63:0]          err_addr
);
    import imsdev_dma_pkg::*;

    initial begin
        if (IMS_PER_WQ < 1 || IMS_PER_WQ > 2048) $fatal(1, "imsdev_desc_engine: IMS_PER_WQ out of range");
        if (MSIX_VECTORS < 1 || MSIX_VECTORS > 2048) $fatal(1, "imsdev_desc_engine: MSIX_VECTORS out of range");
    end

    // Opcodes, flags and status codes (docs/work_queues.md, DSA numbering).
    localparam logic [7:0]  OP_NOOP = 8'h00, OP_DRAIN = 8'h02, OP_MEMMOVE = 8'h03, OP_MEMFILL = 8'h04;
    localparam logic [23:0] FLAG_CRAV = 24'h4, FLAG_RCR = 24'h8, FLAG_RCI = 24'h10;
    localparam logic [23:0] FLAGS_SUPPORTED = 24'h0000_01 | 24'h2 | FLAG_CRAV | FLAG_RCR | FLAG_RCI | 24'h100 | 24'h2000;
    localparam logic [6:0]  ST_SUCCESS = 7'h01, ST_BAD_OPCODE = 7'h10, ST_BAD_FLAGS = 7'h11, ST_RESERVED = 7'h12,
                            ST_XFER_SIZE = 7'h13, ST_INT_HANDLE = 7'h19, ST_CR_ALIGN = 7'h1B,
                            // enum dsa_completion_status: DSA_COMP_PAGE_FAULT_NOBOF, DSA_COMP_HW_ERR1
                            ST_PAGE_FAULT = 7'h03, ST_HW_ERR = 7'h20;

    typedef enum logic [3:0] {
        S_IDLE, S_WAIT_DESC, S_CHECK, S_DMA_CMD, S_DMA_RSP, S_COMPLETE, S_CR_CMD, S_CR_RSP, S_IRQ, S_DONE
    } state_e;
    state_e state_q;

    // Descriptor DW0 (PASID, priv) is not read: the PASID comes from the submission (DMWr prefix or the
    // dedicated WQ's configuration), as with ENQCMD, which fills that field from IA32_PASID anyway.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0]   desc_q;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [WQW-1:0] wq_q;
    logic           pasid_valid_q, priv_q;
    logic [19:0]    pasid_q;
    logic [6:0]     status_q;
    logic [31:0]    bytes_q;
    logic [63:0]    fault_q;
    logic [23:0]    bad_flags_q;
    logic           grant_q;          // the handle's grant, as looked up (or not required)

    wire [7:0]  opcode    = desc_q[63:56];
    wire [23:0] flags     = desc_q[55:32];
    wire [63:0] cr_addr   = desc_q[127:64];
    wire [63:0] src       = desc_q[191:128];
    wire [63:0] dst       = desc_q[255:192];
    wire [31:0] xfer      = desc_q[287:256];
    wire [15:0] handle    = desc_q[303:288];
    wire        crav      = (flags & FLAG_CRAV) != 0;
    wire        rcr       = (flags & FLAG_RCR) != 0;
    wire        rci       = (flags & FLAG_RCI) != 0;
    wire        cr_ok     = crav && cr_addr[4:0] == 5'd0;
    wire        is_ims    = handle[15];
    wire        handle_in_range = is_ims ? 32'(handle[14:0]) < IMS_PER_WQ : 32'(handle[10:0]) < MSIX_VECTORS && handle[14:11] == 4'd0;
    // In S_CHECK the lookup result is fresh; from then on its latched copy.
    wire        handle_ok = handle_in_range && (state_q == S_CHECK ? (!hdl_required || hdl_granted) : grant_q);
    wire [4:0]  xfer_shift = wq_max_xfer_shift[32'(wq_q)*5 +: 5];
    wire        xfer_ok   = {32'd0, xfer} <= (64'd1 << xfer_shift);
    wire        moves_data = opcode == OP_MEMMOVE || opcode == OP_MEMFILL;

    // Check order: opcode, flags, reserved fields, completion record alignment, size, interrupt handle.
    logic [6:0] check_status;
    always_comb begin
        check_status = ST_SUCCESS;
        if (!(opcode == OP_NOOP || opcode == OP_DRAIN || moves_data))      check_status = ST_BAD_OPCODE;
        else if ((flags & ~FLAGS_SUPPORTED) != 0)                            check_status = ST_BAD_FLAGS;
        else if (desc_q[30:20] != 11'd0 || desc_q[511:304] != '0)           check_status = ST_RESERVED;
        else if (crav && !cr_ok)                                             check_status = ST_CR_ALIGN;
        else if (moves_data && !xfer_ok)                                     check_status = ST_XFER_SIZE;
        else if (rci && !handle_ok)                                          check_status = ST_INT_HANDLE;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            state_q       <= S_IDLE;
            desc_q        <= '0;
            wq_q          <= '0;
            pasid_valid_q <= 1'b0;
            pasid_q       <= '0;
            priv_q        <= 1'b0;
            status_q      <= ST_SUCCESS;
            bytes_q       <= '0;
            fault_q       <= '0;
            bad_flags_q   <= '0;
            grant_q       <= 1'b0;
        end else begin
            case (state_q)
                S_IDLE: if (deq_grant) state_q <= S_WAIT_DESC;
                S_WAIT_DESC: if (deq_valid && deq_discard) begin
                    state_q       <= S_IDLE;
                end else if (deq_valid) begin
                    desc_q        <= deq_desc;
                    wq_q          <= deq_wq;
                    pasid_valid_q <= deq_pasid_valid;
                    pasid_q       <= deq_pasid;
                    priv_q        <= deq_priv;
                    state_q       <= S_CHECK;
                end
                S_CHECK: begin
                    status_q    <= check_status;
                    bytes_q     <= '0;
                    fault_q     <= '0;
                    bad_flags_q <= (check_status == ST_BAD_FLAGS) ? (flags & ~FLAGS_SUPPORTED) : '0;
                    grant_q     <= !hdl_required || hdl_granted;
                    state_q     <= (check_status == ST_SUCCESS && moves_data && xfer != 32'd0) ? S_DMA_CMD : S_COMPLETE;
                end
                S_DMA_CMD: if (dma_cmd_ready) state_q <= S_DMA_RSP;
                S_DMA_RSP: if (dma_rsp_valid) begin
                    bytes_q <= dma_rsp_bytes;
                    if (dma_rsp_status != DMA_OK) begin
                        status_q <= dma_page_fault ? ST_PAGE_FAULT : ST_HW_ERR;
                        fault_q  <= src + 64'(dma_rsp_bytes);
                    end
                    state_q <= S_COMPLETE;
                end
                S_COMPLETE: begin
                    if (cr_ok && (rcr || status_q != ST_SUCCESS)) state_q <= S_CR_CMD;
                    else if (rci && handle_ok)                     state_q <= S_IRQ;
                    else                                           state_q <= S_DONE;
                end
                S_CR_CMD: if (dma_cmd_ready) state_q <= S_CR_RSP;
                S_CR_RSP: if (dma_rsp_valid) state_q <= (rci && handle_ok) ? S_IRQ : S_DONE;
                S_IRQ: if (is_ims ? ims_irq_ready : msix_irq_ready) state_q <= S_DONE;
                S_DONE: state_q <= S_IDLE;
                default: state_q <= S_IDLE;
            endcase
        end
    end

    // A source read answered UR or CA is an address the host does not translate or serve: DSA's page fault
    // without Block-on-Fault (a read: status bit 7 stays 0). Poisoned data and a completion timeout are
    // hardware errors (DSA_COMP_HW_ERR1).
    wire dma_page_fault = dma_rsp_status == DMA_READ_UR || dma_rsp_status == DMA_READ_CA;

    assign deq_req    = (state_q == S_IDLE);
    assign hdl_rd_en     = state_q == S_WAIT_DESC && deq_valid && !deq_discard;
    assign hdl_rd_handle = deq_desc[303:288];
    assign hdl_rd_wq     = deq_wq;
    assign busy_valid = (state_q != S_IDLE);
    assign busy_wq    = wq_q;

    // DMA commands: the operation, then the 32-byte completion record.
    wire cr_phase = (state_q == S_CR_CMD);
    assign dma_cmd_valid       = (state_q == S_DMA_CMD) || cr_phase;
    assign dma_cmd_op          = cr_phase ? DMA_OP_WRITE : (opcode == OP_MEMFILL ? DMA_OP_FILL : DMA_OP_COPY);
    assign dma_cmd_pasid_valid = pasid_valid_q;
    assign dma_cmd_pasid       = pasid_q;
    assign dma_cmd_priv        = priv_q;
    assign dma_cmd_src         = src;
    assign dma_cmd_dst         = cr_phase ? cr_addr : dst;
    assign dma_cmd_len         = cr_phase ? 32'd32 : xfer;
    assign dma_cmd_pattern     = src;     // MEMFILL: the pattern sits in the source field, as in DSA
    assign dma_cmd_wdata       = {96'd0, 8'd0, bad_flags_q, fault_q, bytes_q, 16'd0, 8'd0, 1'b0, status_q};
    assign dma_rsp_ready       = (state_q == S_DMA_RSP) || (state_q == S_CR_RSP);

    assign ims_irq_valid   = (state_q == S_IRQ) && is_ims;
    assign ims_irq_wq      = 3'(wq_q);
    assign ims_irq_index   = {5'd0, handle[10:0]};
    assign ims_irq_pasid   = pasid_valid_q ? pasid_q : 20'd0;
    assign msix_irq_valid  = (state_q == S_IRQ) && !is_ims;
    assign msix_irq_vector = {5'd0, handle[10:0]};

    // A failure nobody can read from a completion record goes to the software error log.
    assign err_valid  = (state_q == S_COMPLETE) && status_q != ST_SUCCESS && !cr_ok;
    assign err_wq     = 8'(wq_q);
    assign err_status = status_q;
    assign err_pasid  = pasid_q;
    assign err_priv   = priv_q;
    assign err_opcode = opcode;
    assign err_addr   = cr_addr;
endmodule

`default_nettype wire
