// Interrupt handles: which completion-interrupt handles software was granted (REQUEST_INT_HANDLE) and has
// not released (RELEASE_INT_HANDLE) or lost to a reset (RESET_DEVICE, FLR, power-on).
//
// A handle names one interrupt entry, in the descriptor's encoding (docs/work_queues.md, "Completion
// interrupts"): bit 15 = 0: MSI-X vector handle[10:0]; bit 15 = 1: entry handle[14:0] of the IMS of the WQ the
// descriptor is submitted to. Handles are granted per entry, so an IMS handle granted for WQ 2's entry 5 is
// not valid on WQ 3.
//
// Command operand (CMD.OPERAND, the same for REQUEST and RELEASE; idxd's CMD_INT_HANDLE_IMS is bit 16):
//   bit 16 = 0: MSI-X vector operand[15:0]          (valid: < MSIX_VECTORS)
//   bit 16 = 1: IMS entry operand[15:0] of the IMS region, as laid out in BAR0: WQ operand[15:11], entry
//               operand[10:0] (each WQ's window holds 2048 entries; valid: WQ < NUM_WQ, entry < IMS_PER_WQ)
//   bits 19:17 must be 0.
// idxd releases by handle; this device's IMS is per WQ, so an IMS handle alone does not name the entry, and
// RELEASE takes the entry as REQUEST does. The handle granted is the descriptor encoding of that entry.
//
// Storage: one bit per entry (MSI-X vectors, then NUM_WQ * IMS_PER_WQ IMS entries) in a simple dual-port RAM.
// After every reset and on clear_all (RESET_DEVICE) a sweep clears every bit, one per cycle (MSIX_VECTORS +
// NUM_WQ * IMS_PER_WQ cycles); `busy` is high meanwhile. The work-queue manager runs no handle command then
// and, while INTHDL_CTL.REQUIRED = 1, dequeues no descriptor (with REQUIRED = 0 the lookup is ignored and
// descriptors flow during the sweep). A lookup made during the sweep answers "not granted", so one that
// counts never sees a handle from before the reset, also for a descriptor taken the cycle before REQUIRED
// became 1. Lookup: rd_en in cycle c, rd_granted in cycle c+1. A
// command write in the cycle of a lookup of the same entry is not forwarded (the lookup sees the old value):
// a handle requested or released while a descriptor using it is being checked may count either way.
`default_nettype none

module imsdev_int_handles #(
    parameter int NUM_WQ       = 8,
    parameter int IMS_PER_WQ   = 256,
    parameter int MSIX_VECTORS = 2048,
    localparam int ENTRIES     = MSIX_VECTORS + NUM_WQ * IMS_PER_WQ,
    localparam int EW          = (ENTRIES > 1) ? $clog2(ENTRIES) : 1,
    localparam int WQW         = (NUM_WQ > 1) ? $clog2(NUM_WQ) : 1
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic             clear_all,    // pulse: revoke every handle
    output      logic             busy,         // clearing (after rst or clear_all)

    // Command operand decode (combinational) and the grant / release write.
    input  wire logic [19:0]      cmd_operand,
    output      logic             cmd_operand_ok,
    output      logic [15:0]      cmd_handle,
    input  wire logic             cmd_wr,       // write the operand's entry (only when cmd_operand_ok, !busy)
    input  wire logic             cmd_grant,    // 1 = REQUEST (grant), 0 = RELEASE

    // Lookup by the descriptor's handle and WQ.
    input  wire logic             rd_en,
    input  wire logic [15:0]      rd_handle,
    input  wire logic [WQW-1:0]   rd_wq,
    output      logic             rd_granted
);
    initial begin
        if (NUM_WQ < 1 || NUM_WQ > 32) $fatal(1, "imsdev_int_handles: NUM_WQ (%0d) must be 1..32 (operand[15:11])", NUM_WQ);
        if (IMS_PER_WQ < 1 || IMS_PER_WQ > 2048) $fatal(1, "imsdev_int_handles: IMS_PER_WQ (%0d) must be 1..2048", IMS_PER_WQ);
        if (MSIX_VECTORS < 1 || MSIX_VECTORS > 2048) $fatal(1, "imsdev_int_handles: MSIX_VECTORS (%0d) must be 1..2048", MSIX_VECTORS);
    end

    // ---------------------------------------------------------------- operand decode
    wire        op_ims   = cmd_operand[16];
    wire [4:0]  op_wq    = cmd_operand[15:11];
    wire [10:0] op_entry = cmd_operand[10:0];
    always_comb begin
        if (cmd_operand[19:17] != 3'd0)
            cmd_operand_ok = 1'b0;
        else if (op_ims)
            cmd_operand_ok = 32'(op_wq) < NUM_WQ && 32'(op_entry) < IMS_PER_WQ;
        else
            cmd_operand_ok = 32'(cmd_operand[15:0]) < MSIX_VECTORS;
    end
    assign cmd_handle = op_ims ? {1'b1, 4'd0, op_entry} : cmd_operand[15:0];

    function automatic logic [EW-1:0] ims_slot(input int wq, input logic [10:0] entry);
        return EW'(MSIX_VECTORS + wq * IMS_PER_WQ + 32'(entry));
    endfunction
    wire [EW-1:0] cmd_addr = op_ims ? ims_slot(32'(op_wq), op_entry) : EW'(cmd_operand[10:0]);
    // A lookup of a handle out of range (the engine rejects it anyway) reads entry 0: never out of bounds.
    wire          rd_in_range = rd_handle[15] ? 32'(rd_handle[14:0]) < IMS_PER_WQ
                                              : 32'(rd_handle[14:0]) < MSIX_VECTORS;
    wire [EW-1:0] rd_addr = !rd_in_range ? '0 :
                            rd_handle[15] ? ims_slot(32'(rd_wq), rd_handle[10:0]) : EW'(rd_handle[10:0]);

    // ---------------------------------------------------------------- clearing sweep
    logic          sweep_q;
    logic [EW-1:0] sweep_idx_q;
    always_ff @(posedge clk) begin
        if (rst) begin
            sweep_q     <= 1'b1;
            sweep_idx_q <= '0;
        end else if (sweep_q) begin
            if (32'(sweep_idx_q) == ENTRIES - 1) sweep_q <= 1'b0;
            sweep_idx_q <= sweep_idx_q + 1'b1;
        end else if (clear_all) begin
            sweep_q     <= 1'b1;
            sweep_idx_q <= '0;
        end
    end
    assign busy = sweep_q;

    // ---------------------------------------------------------------- storage
    logic rd_data;
    imsdev_ram_sdp #(.WIDTH(1), .DEPTH(ENTRIES), .LANE_W(1)) u_granted (
        .clk,
        .wr_en(sweep_q || (cmd_wr && cmd_operand_ok)),
        .wr_addr(sweep_q ? sweep_idx_q : cmd_addr),
        .wr_data(!sweep_q && cmd_grant),
        .rd_en, .rd_addr, .rd_data
    );
    // The RAM powers up with any content, and a sweep clears it one slot per cycle. No handle is granted
    // while the sweep runs (no handle command runs then), so every lookup made during it answers "not
    // granted", whatever the slot still holds. The WQ manager holds descriptors during the sweep only while
    // REQUIRED is 1, and REQUIRED can become 1 a cycle after a descriptor was taken (the portal's path to
    // the WQ is a cycle shorter than a register write's): that descriptor is checked with REQUIRED = 1
    // against this lookup, which without the gate read a handle granted before an FLR as still granted
    // (tb/tests/wq/test_int_handles.py test_required_set_right_before_a_submission).
    logic rd_in_sweep_q;
    always_ff @(posedge clk) begin
        if (rd_en) rd_in_sweep_q <= sweep_q;
    end
    assign rd_granted = rd_data && !rd_in_sweep_q;
endmodule

`default_nettype wire
