// Descriptor engine: takes descriptors from the work queues, checks them, runs the operation on the DMA
// engine, writes the completion record and raises the completion interrupt (docs/work_queues.md).
//
// Three stages with up to INFLIGHT descriptors in flight, so the DMA engine (which overlaps commands)
// always has the next operation while earlier ones finish:
//   issue:    take a descriptor (deq_req / deq_grant / deq_valid), look its interrupt handle up, check it,
//             hand its operation (MEMMOVE / MEMFILL) to the DMA engine, and append it to the in-flight list.
//   record:   in list order, wait for the operation's DMA response and hand the completion record write to
//             the DMA engine (or report a failure without a record to SWERR).
//   notify:   in list order, wait for the record write's response, raise the interrupt, drop the
//             descriptor from the list.
// Order of a descriptor's effects, which the driver relies on:
//   data (DMA writes) -> completion record write -> interrupt request.
// The DMA engine answers a command only once its last write beat is on tx_req, and the record is written
// (and the interrupt requested) only after that answer, so the host always sees data, then record, then
// interrupt. Descriptors retire in the order they were taken (one order across all WQs), so records and
// interrupts of one WQ come in submission order, and a DRAIN descriptor (opcode 0x02), which has no
// operation, retires after every earlier descriptor. FENCE (flag 0x1): the descriptor's operation is not
// started while an earlier descriptor of its WQ is in flight.
//
// DMA commands come from both stages (operations, records) and are answered in command order; the id's
// top bit tells a record's answer from an operation's. Operation answers are queued for the retire stage
// (at most INFLIGHT are outstanding), so a record answer never waits behind them.
//
// Batch (opcode 0x01, DSA_OPCODE_BATCH): a batch descriptor that passes its checks is not appended itself;
// the issue stage instead takes its descriptor list one 64-byte member at a time, checks and issues each
// member like a submitted descriptor (its own record and interrupt; FENCE waits for earlier members, which
// are in flight on the same WQ), then appends the batch's own entry. The members are prefetched: up to
// PREFETCH list entries are read ahead (one DMA FETCH command per 64-byte entry, with the batch's PASID and
// privilege, in list order) into a member buffer, so a member's read overlaps the issue of the ones before
// it instead of waiting behind their operations. After a failed list read no further entry is fetched;
// before the batch's own entry is appended every fetch still outstanding is answered and the buffer emptied. The
// record stage folds the members' final statuses into agg_fail_q as they pass, and starts the batch entry
// only when it is the list's head, i.e. after every member's record and interrupt were handed over:
// status SUCCESS, BATCH_FAIL (0x05) if a member failed, or BATCH_PAGE_FAULT (0x06) / HW_ERR1 (0x20) with the
// fault address if a list read failed (then the members after it are not run); bytes completed = the
// number of members processed. A member that is itself a BATCH or a DRAIN gets BAD_OPCODE (0x10).
//
// For the work-queue commands: busy_wqs names every WQ with a descriptor taken and not retired; old_busy
// says a descriptor taken before a PASID command's mark (deq_old, or any taken when mark_inflight pulses)
// has not retired. A batch counts from its dequeue until its own entry retires, members included.
`default_nettype none

module imsdev_desc_engine #(
    parameter int NUM_WQ       = 8,
    parameter int IMS_PER_WQ   = 256,
    parameter int MSIX_VECTORS = 2048,
    parameter int INFLIGHT     = 4,      // descriptors between issue and retirement (power of two, 2..16)
    parameter int MAX_BATCH    = 32,     // largest batch (power of two >= 2; CAP2.MAX_BATCH_SHIFT = log2)
    parameter int BSW          = 4,      // width of a WQ's max batch shift (WQCFG3.MAX_BATCH_SHIFT)
    localparam int WQW         = (NUM_WQ > 1) ? $clog2(NUM_WQ) : 1,
    localparam int IW          = $clog2(INFLIGHT),
    localparam int MBS         = $clog2(MAX_BATCH),          // log2(MAX_BATCH)
    localparam int CW          = $clog2(MAX_BATCH + 1),      // a member count 0..MAX_BATCH
    localparam int PREFETCH    = (MAX_BATCH < 4) ? MAX_BATCH : 4,   // batch list entries read ahead
    localparam int PFW         = $clog2(PREFETCH + 1)
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
    input  wire logic                 deq_old,         // with deq_valid: taken before a PASID command's mark
    input  wire logic                 mark_inflight,   // pulse: every descriptor taken so far is "old"
    output      logic                 old_busy,
    output      logic [NUM_WQ-1:0]    busy_wqs,

    input  wire logic [NUM_WQ*5-1:0]  wq_max_xfer_shift,
    input  wire logic [NUM_WQ*BSW-1:0] wq_max_batch_shift,
    input  wire logic [NUM_WQ-1:0]    wq_ats_disable,  // WQCFG2.ATS_DISABLE: this WQ's DMA is never translated
    input  wire logic [NUM_WQ-1:0]    wq_bof,          // WQCFG2.BOF_EN && !PRS_DISABLE: Block-on-Fault allowed
    input  wire logic                 irq_quiet,       // every interrupt handed over has left (or was decided)

    // Interrupt handles (imsdev_int_handles): looked up when the descriptor arrives, used from I_CHECK.
    input  wire logic                 hdl_required,    // INTHDL_CTL.REQUIRED
    input  wire logic                 hdl_hold,        // handles are being revoked (checked): no member fetch
    output      logic                 hdl_rd_en,
    output      logic [15:0]          hdl_rd_handle,
    output      logic [WQW-1:0]       hdl_rd_wq,
    input  wire logic                 hdl_granted,

    // DMA engine (imsdev_dma)
    output      logic                 dma_cmd_valid,
    input  wire logic                 dma_cmd_ready,
    output      logic [2:0]           dma_cmd_op,
    output      logic                 dma_cmd_pasid_valid,
    output      logic [19:0]          dma_cmd_pasid,
    output      logic                 dma_cmd_priv,
    output      logic [63:0]          dma_cmd_src,
    output      logic [63:0]          dma_cmd_dst,
    output      logic                 dma_cmd_no_ats,  // the command's WQ has WQCFG2.ATS_DISABLE
    output      logic                 dma_cmd_bof,     // Block-on-Fault: descriptor flag BOF and wq_bof
    output      logic [31:0]          dma_cmd_len,
    output      logic [63:0]          dma_cmd_pattern,
    output      logic [255:0]         dma_cmd_wdata,
    output      logic [7:0]           dma_cmd_id,
    input  wire logic                 dma_rsp_valid,
    output      logic                 dma_rsp_ready,
    /* verilator lint_off UNUSEDSIGNAL */   // only the top bits (record / fetch / operation) are used
    input  wire logic [7:0]           dma_rsp_id,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire logic [3:0]           dma_rsp_status,
    input  wire logic [31:0]          dma_rsp_bytes,
    input  wire logic [511:0]         dma_rsp_data,    // a FETCH's 64 bytes (a batch member)

    // Completion interrupts
    output      logic                 ims_irq_valid,
    input  wire logic                 ims_irq_ready,
    output      logic [WQW-1:0]       ims_irq_wq,
    output      logic [15:0]          ims_irq_index,
    output      logic [19:0]          ims_irq_pasid,
    output      logic                 msix_irq_valid,
    input  wire logic                 msix_irq_ready,
    output      logic [15:0]          msix_irq_vector,

    // SWERR: a failed descriptor without a usable completion record (NO_CR), or a record write whose
    // translation was denied or failed (CR_XLAT, docs/ats_pri.md 2.7: err_cr_xlat = 1, err_fault_rw = 1).
    // Both in one cycle: the record fault (the older descriptor) is reported and err_several set.
    output      logic                 err_valid,
    output      logic                 err_cr_xlat,
    output      logic                 err_fault_rw,    // the fault was on a write (CR_XLAT; NO_CR: status bit 7)
    output      logic                 err_several,
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
        if (INFLIGHT < 2 || INFLIGHT > 16 || (INFLIGHT & (INFLIGHT - 1)) != 0)
            $fatal(1, "imsdev_desc_engine: INFLIGHT (%0d) must be a power of two, 2..16", INFLIGHT);
        // The batch limit is 2^shift: the device's shift (MBS) must be one a WQ's BSW-bit shift can name.
        if (BSW < 1 || BSW > 5 || MAX_BATCH < 2 || (MAX_BATCH & (MAX_BATCH - 1)) != 0 || MBS > (1 << BSW) - 1)
            $fatal(1, "imsdev_desc_engine: MAX_BATCH (%0d) must be a power of two, 2..2^%0d", MAX_BATCH,
                   (1 << BSW) - 1);
    end

    // Opcodes, flags and status codes (docs/work_queues.md, DSA numbering).
    localparam logic [7:0]  OP_NOOP = 8'h00, OP_BATCH = 8'h01, OP_DRAIN = 8'h02, OP_MEMMOVE = 8'h03,
                            OP_MEMFILL = 8'h04;
    localparam logic [23:0] FLAG_FENCE = 24'h1, FLAG_BOF = 24'h2, FLAG_CRAV = 24'h4, FLAG_RCR = 24'h8,
                            FLAG_RCI = 24'h10;
    localparam logic [23:0] FLAGS_SUPPORTED = FLAG_FENCE | FLAG_BOF | FLAG_CRAV | FLAG_RCR | FLAG_RCI | 24'h100 | 24'h2000;
    localparam logic [6:0]  ST_SUCCESS = 7'h01, ST_BAD_OPCODE = 7'h10, ST_BAD_FLAGS = 7'h11, ST_RESERVED = 7'h12,
                            ST_XFER_SIZE = 7'h13, ST_INT_HANDLE = 7'h19, ST_CR_ALIGN = 7'h1B,
                            // enum dsa_completion_status: DSA_COMP_PAGE_FAULT_NOBOF, DSA_COMP_HW_ERR1
                            ST_PAGE_FAULT = 7'h03, ST_HW_ERR = 7'h20,
                            // DSA_COMP_PAGE_FAULT_IR: Block-on-Fault, the page request got Invalid Request
                            ST_PAGE_FAULT_IR = 7'h04,
                            // DSA_COMP_TRANSLATION_FAIL (ATS: the translation itself failed)
                            ST_XLATE_FAIL = 7'h22,
                            // DSA_COMP_BATCH_FAIL, _BATCH_PAGE_FAULT, _DESC_CNT_ERANGE, _DESCLIST_ALIGN
                            ST_BATCH_FAIL = 7'h05, ST_BATCH_PAGE_FAULT = 7'h06, ST_DESC_CNT = 7'h14,
                            ST_LIST_ALIGN = 7'h18;
    // DMA command ids: operation / record / batch member fetch
    localparam logic [7:0]  ID_OP = 8'h00, ID_CR = 8'h80, ID_FETCH = 8'h40;

    // ================================================================== issue stage
    // I_FETCH: waiting for the next member in the member buffer;
    // I_BEND: every member issued (or the list read failed): append the batch's own entry once every fetch
    // was answered and the member buffer is empty.
    typedef enum logic [2:0] {I_IDLE, I_WAIT, I_CHECK, I_CMD, I_FETCH, I_BEND} istate_e;
    istate_e ist_q;

    // Descriptor DW0 (PASID, priv) is not read: the PASID comes from the submission (DMWr prefix or the
    // dedicated WQ's configuration), as with ENQCMD, which fills that field from IA32_PASID anyway.
    /* verilator lint_off UNUSEDSIGNAL */
    logic [511:0]   desc_q;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [WQW-1:0] wq_q;
    logic           pasid_valid_q, priv_q, issue_old_q;
    logic [19:0]    pasid_q;
    logic [6:0]     chk_status_q;     // the check's result, fixed when the descriptor leaves I_CHECK (the
    logic           chk_irq_q;        // operation is issued on it; INTHDL_CTL may change meanwhile)

    wire [7:0]  opcode    = desc_q[63:56];
    wire [23:0] flags     = desc_q[55:32];
    wire [63:0] cr_addr   = desc_q[127:64];
    wire [63:0] src       = desc_q[191:128];
    wire [63:0] dst       = desc_q[255:192];
    wire [31:0] xfer      = desc_q[287:256];
    /* verilator lint_off UNUSEDSIGNAL */   // bits 14:11 are checked at the load (ld_handle)
    wire [15:0] handle    = desc_q[303:288];
    /* verilator lint_on UNUSEDSIGNAL */
    wire        crav      = (flags & FLAG_CRAV) != 0;
    wire        rci       = (flags & FLAG_RCI) != 0;
    // Block-on-Fault for this descriptor's DMA (and its record): the flag on a WQ that allows it. The rest of
    // the effective-BOF condition (effective ATS, PRI enabled and usable) is the DMA engine's and imsdev_pri's.
    wire        bof       = (flags & FLAG_BOF) != 0 && wq_bof[wq_q];
    wire        cr_ok     = crav && cr_addr[4:0] == 5'd0;

    // The checks are decided as the descriptor is loaded into desc_q (from the dequeue in I_WAIT or the member
    // buffer in I_FETCH) and kept in chk_*_q, all but the interrupt handle's grant, which is the lookup's
    // answer in I_CHECK. Fmax: the checks on desc_q headed the issue stage's append / early dequeue decision
    // and the WQ manager's count update (the small configuration's worst path on ECP5 once the DMA write
    // engine's was cut). The WQ limits (WQCFG3) are read at the load, one cycle before I_CHECK: software
    // changes them only while the WQ is disabled.
    // Member buffer head: {status, reserved bits 511:304 not all zero, the entry's bytes 0..37}. Fmax: the
    // 208 reserved bits are ORed as the fetch's answer enters the buffer (from the DMA engine's fetch_q
    // register), so the buffer holds 309 bits, not 516; mb_desc gives the checks the entry as a descriptor
    // whose reserved field is that flag (bit 304), which every check reads exactly as the 208 bits.
    logic [308:0]   mb_q;
    wire  [511:0]   mb_desc = {207'd0, mb_q[304:0]};
    logic in_batch_q;                 // the descriptor in desc_q is a batch member (fetched, not dequeued)

    // Batch: the list address sits in the source slot, the count in the transfer-size slot (struct
    // dsa_hw_desc's desc_list_addr / desc_count); the destination slot is reserved. The WQ's limit is
    // 2^min(WQCFG3.MAX_BATCH_SHIFT, log2(MAX_BATCH)).
    // The checks of one descriptor as it is loaded. Fmax: computed for both sources side by side (the
    // dequeue and the member buffer's head) and only the 12-bit results selected by the state, instead of
    // selecting the 512-bit descriptor first (the select's fan-out headed the engine's worst path alone,
    // ist_q -> chk_pre_q). Same results in every cycle a descriptor is loaded.
    typedef struct packed {
        logic [6:0] status;           // the checks before the handle's
        logic       hir;              // the handle is in range
        logic       batch;            // a batch
        logic       mnz;              // MEMMOVE or MEMFILL with a non-zero size
    } ld_chk_t;
    /* verilator lint_off UNUSEDSIGNAL */   // only the checked fields are read
    function automatic ld_chk_t desc_check(input logic [511:0] ld_desc, input logic [4:0] ld_xfer_shift,
                                           input logic [BSW-1:0] wq_bshift);
        logic [7:0]     ld_opcode;
        logic [23:0]    ld_flags;
        logic [5:0]     ld_src;       // (the list's alignment)
        logic [63:0]    ld_dst;
        logic [31:0]    ld_xfer;
        logic [15:0]    ld_handle;
        logic           ld_crav, ld_cr_ok, ld_xfer_ok, ld_moves, ld_batch, ld_count_ok, ld_op_ok;
        logic [BSW-1:0] bshift;
        logic [6:0]     ld_status;
        ld_opcode   = ld_desc[63:56];
        ld_flags    = ld_desc[55:32];
        ld_src      = ld_desc[133:128];
        ld_dst      = ld_desc[255:192];
        ld_xfer     = ld_desc[287:256];
        ld_handle   = ld_desc[303:288];
        ld_crav     = (ld_flags & FLAG_CRAV) != 0;
        ld_cr_ok    = ld_crav && ld_desc[68:64] == 5'd0;
        ld_xfer_ok  = {32'd0, ld_xfer} <= (64'd1 << ld_xfer_shift);
        ld_moves    = ld_opcode == OP_MEMMOVE || ld_opcode == OP_MEMFILL;
        ld_batch    = ld_opcode == OP_BATCH;
        bshift      = (32'(wq_bshift) < MBS) ? wq_bshift : BSW'(MBS);
        ld_count_ok = ld_xfer >= 32'd2 && {32'd0, ld_xfer} <= (64'd1 << bshift);
        // A member may not be a batch or a drain (DSA: a batch cannot contain either). (in_batch_q is already
        // the loaded descriptor's: 0 in I_WAIT, 1 in I_FETCH.)
        ld_op_ok    = ld_opcode == OP_NOOP || ld_moves || (!in_batch_q && (ld_opcode == OP_DRAIN || ld_batch));
        // Check order: opcode, flags, reserved fields, completion record alignment, list alignment and count
        // (batch), size, interrupt handle (the last in I_CHECK).
        ld_status = ST_SUCCESS;
        if (!ld_op_ok)                                                       ld_status = ST_BAD_OPCODE;
        else if ((ld_flags & ~FLAGS_SUPPORTED) != 0)                         ld_status = ST_BAD_FLAGS;
        else if (ld_desc[30:20] != 11'd0 || ld_desc[511:304] != '0 || (ld_batch && ld_dst != 64'd0))
                                                                             ld_status = ST_RESERVED;
        else if (ld_crav && !ld_cr_ok)                                       ld_status = ST_CR_ALIGN;
        else if (ld_batch && ld_src[5:0] != 6'd0)                            ld_status = ST_LIST_ALIGN;
        else if (ld_batch && !ld_count_ok)                                   ld_status = ST_DESC_CNT;
        else if (ld_moves && !ld_xfer_ok)                                    ld_status = ST_XFER_SIZE;
        desc_check.status = ld_status;
        desc_check.hir    = ld_handle[15] ? 32'(ld_handle[14:0]) < IMS_PER_WQ
                                          : 32'(ld_handle[10:0]) < MSIX_VECTORS && ld_handle[14:11] == 4'd0;
        desc_check.batch  = ld_batch;
        desc_check.mnz    = ld_moves && ld_xfer != 32'd0;
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */
    // (the WQ limits: the dequeued descriptor's WQ, or the batch's for a member)
    ld_chk_t chk_deq, chk_mb, ld_chk;
    assign chk_deq = desc_check(deq_desc, wq_max_xfer_shift[32'(deq_wq)*5 +: 5],
                                wq_max_batch_shift[32'(deq_wq)*BSW +: BSW]);
    assign chk_mb  = desc_check(mb_desc, wq_max_xfer_shift[32'(wq_q)*5 +: 5],
                                wq_max_batch_shift[32'(wq_q)*BSW +: BSW]);
    assign ld_chk  = ist_q == I_FETCH ? chk_mb : chk_deq;
    logic [6:0] chk_pre_q;            // the checks before the handle's
    logic       chk_pre_ok_q;         // ... all passed
    logic       chk_hir_q;            // the handle is in range
    logic       chk_batch_q;          // a batch
    logic       chk_mnz_q;            // MEMMOVE or MEMFILL with a non-zero size
    // The lookup result stays in the RAM's output register until the next lookup (I_WAIT only).
    wire        handle_ok = chk_hir_q && (!hdl_required || hdl_granted);
    wire        chk_pass  = chk_pre_ok_q && !(rci && !handle_ok);
    wire [6:0]  check_status = !chk_pre_ok_q ? chk_pre_q : !chk_pass ? ST_INT_HANDLE : ST_SUCCESS;
    // A batch that passed its checks starts fetching its list instead of being appended.
    wire batch_go = chk_pass && chk_batch_q;
    wire needs_op = chk_pass && chk_mnz_q;

    // ================================================================== in-flight list
    typedef struct packed {
        logic [WQW-1:0] wq;
        logic           pasid_valid;
        logic [19:0]    pasid;
        logic           priv;
        logic           has_op;       // an operation was given to the DMA engine: wait for its answer
        logic [6:0]     status;       // the check's result
        logic [23:0]    bad_flags;
        logic           cr_ok;
        logic           rcr;
        logic           bof;          // Block-on-Fault (the record write blocks too)
        logic           irq;          // RCI with a valid (and, if required, granted) handle
        logic           is_ims;
        logic [10:0]    hidx;
        logic [63:0]    cr_addr;
        logic [63:0]    src;          // (a batch's own entry: the fault address of a failed list read)
        logic [63:0]    dst;          // (the fault address of a destination translation fault, ATS)
        logic [7:0]     opcode;
        logic           member;       // a batch member: its final status counts towards the batch's
        logic           batch;        // a batch's own entry: status and count from its members
        logic [CW-1:0]  bcount;       // (batch) members processed
    } entry_t;

    entry_t          ent_q [INFLIGHT];
    logic [INFLIGHT-1:0] valid_q, old_q;
    logic [IW-1:0]   head_q, tail_q;

    entry_t new_ent;
    always_comb begin
        new_ent.wq          = wq_q;
        new_ent.pasid_valid = pasid_valid_q;
        new_ent.pasid       = pasid_q;
        new_ent.priv        = priv_q;
        // Appended from I_CHECK (no operation: the check's result as it stands) or from I_CMD (the
        // operation was just handed over: the result latched when it was decided).
        new_ent.has_op      = ist_q == I_CMD;
        new_ent.status      = ist_q == I_CMD ? chk_status_q : check_status;
        new_ent.bad_flags   = (new_ent.status == ST_BAD_FLAGS) ? (flags & ~FLAGS_SUPPORTED) : '0;
        new_ent.cr_ok       = cr_ok;
        new_ent.rcr         = (flags & FLAG_RCR) != 0;
        new_ent.bof         = bof;
        new_ent.irq         = ist_q == I_CMD ? chk_irq_q : rci && handle_ok;
        new_ent.is_ims      = handle[15];
        new_ent.hidx        = handle[10:0];
        new_ent.cr_addr     = cr_addr;
        new_ent.src         = src;
        new_ent.dst         = dst;
        new_ent.opcode      = opcode;
        new_ent.member      = in_batch_q;
        new_ent.batch       = 1'b0;
        new_ent.bcount      = '0;
    end

    // The batch in progress: its own entry (prepared when its checks passed; status, count and fault
    // address filled in at I_BEND), the list, the count, and the members taken so far.
    entry_t         b_ent_q;
    logic [63:0]    b_list_q, b_fault_q;
    logic [CW-1:0]  b_cnt_q, b_idx_q;
    logic [6:0]     b_status_q;
    wire [CW-1:0]   b_idx_next = b_idx_q + 1'b1;
    // After a member was appended: the next member, or the batch's own entry after the last.
    istate_e        after_push;
    entry_t         b_ent_done;
    always_comb begin
        after_push        = !in_batch_q ? I_IDLE : (b_idx_next == b_cnt_q ? I_BEND : I_FETCH);
        b_ent_done        = b_ent_q;
        b_ent_done.status = b_status_q;
        b_ent_done.src    = b_fault_q;
        b_ent_done.dst    = '0;
        b_ent_done.bcount = b_idx_q;
    end

    // FENCE: an earlier descriptor of the same WQ still in flight.
    logic fence_wait;
    always_comb begin
        fence_wait = 1'b0;
        for (int i = 0; i < INFLIGHT; i++)
            if (valid_q[i] && ent_q[i].wq == wq_q && (flags & FLAG_FENCE) != 0) fence_wait = 1'b1;
    end

    // DMA command arbitration: a record (retire stage) goes before an operation (issue stage); a command
    // shown and not yet taken stays selected, so the command never changes under valid.
    logic cr_req, op_req, hold_q, hold_cr_q;
    wire  sel_cr  = hold_q ? hold_cr_q : cr_req;
    wire  cr_fire = sel_cr && cr_req && dma_cmd_ready;
    wire  op_fire = !sel_cr && op_req && dma_cmd_ready;
    wire  f_fire;                      // a member fetch was taken (op_fire with sel_f)

    // Room is checked where a descriptor is appended (only the issue stage appends, one at a time), not when it
    // is dequeued: the next descriptor is taken and checked while the list is still full, and its operation
    // is handed over as soon as a slot frees.
    wire   room   = !valid_q[tail_q];
    // Member prefetch: entries f_idx_q.. of the list are fetched while fewer than PREFETCH are outstanding or
    // waiting in the member buffer, until the list's end or a failed read (f_stop_q). A fetch once shown stays
    // shown until taken (hold_q / hold_f_q: a command never changes or drops under valid). An operation of
    // the issue stage goes first when both want the command port (the fetch is for a later member).
    logic [CW-1:0]      f_idx_q;
    logic [PFW-1:0]     f_out_q;              // fetches handed to the DMA engine and not yet answered
    logic               f_stop_q, hold_f_q;
    logic [PFW-1:0]     mb_count;
    logic               mb_valid, fetch_rsp;  // member buffer not empty; a fetch's answer is taken
    wire   op_want   = ist_q == I_CMD && room;
    // fetch_want = in_batch_q && f_idx_q != b_cnt_q && !f_stop_q && pf_room(f_out_q + mb_count), from a
    // flip-flop loaded with its next value (Fmax: the count compare and the sum were the head of the command
    // port's selection, whose fire runs into the dequeue, the WQ manager and the DMA command FIFOs). Checked
    // against the definition every cycle in simulation.
    logic  fetch_want_q;
    wire   fetch_want = fetch_want_q;
    wire   sel_f     = hold_q ? hold_f_q : (fetch_want && !op_want);
    wire   fetch_req = sel_f && (fetch_want || (hold_q && !hold_cr_q));
    assign op_req = sel_f ? fetch_req : op_want;
    // (a fetch still shown after a failed read, held at the command port, must be taken and answered too)
    wire   push_batch = ist_q == I_BEND && room && !fetch_req && f_out_q == '0 && !mb_valid && !fetch_rsp;
    wire   push_check = ist_q == I_CHECK && !fence_wait && !needs_op && !batch_go && room;
    wire   push   = push_check || (op_fire && !sel_f && ist_q == I_CMD) || push_batch;
    // ent_q's tail is written whenever a push could happen in this cycle (the state and room only; push
    // implies ent_we, and in I_BEND a push is push_batch, elsewhere new_ent).
    wire   ent_we = room && (ist_q == I_CHECK || ist_q == I_CMD || ist_q == I_BEND);

    // fetch_want's next value: the next values of its terms as the issue stage's update below leaves them.
    // f_out_q + mb_count changes by f_fire - mb_pop (an answer moves from f_out_q into the member buffer); the
    // four outcomes are compared side by side, so f_fire and mb_pop only select.
    wire   batch_start = ist_q == I_CHECK && !fence_wait && !needs_op && batch_go;
    // (room for one more fetch: fewer than PREFETCH outstanding or waiting)
    function automatic logic pf_room(input logic [31:0] n);
        return n < PREFETCH;
    endfunction
    // pf_sum = f_out_q + mb_count, kept in a flip-flop (Fmax: the buffer's pointer subtract, the add and the
    // compares, all 32 bits wide, were the engine's worst path alone). PFW + 1 bits hold 0..2 * PREFETCH:
    // f_fire comes only with room, so pf_sum + 1 <= PREFETCH, and mb_pop only with an entry, so pf_sum - 1 >= 0.
    // Checked against the sum every cycle in simulation.
    logic [PFW:0] pf_sum_q;
    wire  [PFW:0] pf_sum = pf_sum_q;
    always_ff @(posedge clk) begin
        if (rst) pf_sum_q <= '0;
        else     pf_sum_q <= pf_sum_q + (PFW + 1)'(f_fire) - (PFW + 1)'(mb_pop);
    end
    logic  pf_room_n, fi_more_n, f_stop_n, in_batch_n;
    always_comb begin
        case ({f_fire, mb_pop})
            2'b10:   pf_room_n = pf_room(32'(pf_sum + 1'b1));
            2'b01:   pf_room_n = pf_room(32'(pf_sum - 1'b1));
            default: pf_room_n = pf_room(32'(pf_sum));
        endcase
        fi_more_n  = batch_start ? CW'(xfer) != '0 : f_fire ? f_idx_q + 1'b1 != b_cnt_q : f_idx_q != b_cnt_q;
        f_stop_n   = batch_start ? 1'b0 : (fetch_rsp && dma_rsp_status != DMA_OK) || f_stop_q;
        in_batch_n = batch_start || (in_batch_q && !(ist_q == I_BEND && push_batch));
    end
    always_ff @(posedge clk) begin
        if (rst) fetch_want_q <= 1'b0;
        else     fetch_want_q <= in_batch_n && fi_more_n && !f_stop_n && pf_room_n;
    end
`ifndef SYNTHESIS
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic reset_seen_q, fw_check_q;
    initial {reset_seen_q, fw_check_q} = 2'b00;
    always_ff @(posedge clk) begin
        if (rst) reset_seen_q <= 1'b1;
        fw_check_q <= reset_seen_q && !rst;
        if (fw_check_q && !rst)
            assert (fetch_want_q == (in_batch_q && f_idx_q != b_cnt_q && !f_stop_q && pf_room(32'(pf_sum))))
                else $error("imsdev_desc_engine: registered fetch_want differs from its definition");
        if (fw_check_q && !rst)
            assert (32'(pf_sum_q) == 32'(f_out_q) + 32'(mb_count))
                else $error("imsdev_desc_engine: pf_sum_q (%0d) differs from fetches out (%0d) + buffered (%0d)",
                            pf_sum_q, f_out_q, mb_count);
    end
`endif

    // ================================================================== retire stage
    // record stage: works on entry rp_q (from head to tail); notify stage: on the head entry.
    typedef enum logic [1:0] {C_IDLE, C_OPRSP, C_COMPLETE, C_CRCMD} cstate_e;
    typedef enum logic [1:0] {N_IDLE, N_CRRSP, N_IRQ} nstate_e;
    cstate_e cst_q;
    nstate_e nst_q;
    logic [IW-1:0] rp_q;
    logic [INFLIGHT-1:0] recorded_q, cr_q;    // the record stage is done with it; it wrote a record
    logic [6:0]    crst_q [INFLIGHT];         // the status its record carries (SWERR CR_XLAT if the write faults)
    logic          agg_fail_q;                // a member of the current batch failed
    // Two views of the list, one per stage: each stage reads only the fields it needs.
    /* verilator lint_off UNUSEDSIGNAL */
    entry_t  hd, rc;
    /* verilator lint_on UNUSEDSIGNAL */
    assign hd = ent_q[head_q];
    assign rc = ent_q[rp_q];
    logic [6:0]  status_q;
    logic        wr_fault_q;      // DSA_COMP_STATUS_WRITE (record status bit 7): the fault was on a write
    logic        op_fail_q;       // the operation failed: C_COMPLETE computes fault_q
    logic [63:0] fault_base_q;    // ... from this start address (the faulting side's)
    logic [31:0] bytes_q;
    logic [63:0] fault_q;

    // Operation answers, queued in order (at most INFLIGHT outstanding: one per listed descriptor with has_op).
    logic        oprsp_in_valid, oprsp_in_ready, oprsp_valid, oprsp_pop;
    logic [35:0] oprsp_data;
    wire         rsp_is_cr = dma_rsp_id[7];
    wire         rsp_is_fetch = dma_rsp_id[6];
    assign oprsp_in_valid = dma_rsp_valid && !rsp_is_cr && !rsp_is_fetch;
    // A fetch's answer always has room in the member buffer (fetches are issued against its free entries).
    assign dma_rsp_ready  = rsp_is_cr ? nst_q == N_CRRSP : rsp_is_fetch ? 1'b1 : oprsp_in_ready;
    assign       fetch_rsp = dma_rsp_valid && rsp_is_fetch;
    // Member buffer: {status, reserved bits set, the entry's bytes 0..37}, in list order (see mb_q).
    logic         mb_pop, unused_mb_in_ready;
    // (REG_OUT, Fmax: the head from flip-flops, so the checks of a member start from a register, not the
    // buffer's LUT-RAM read behind its pointer; same behaviour cycle by cycle)
    imsdev_fifo #(.WIDTH(309), .DEPTH(PREFETCH), .REG_OUT(1'b1)) u_mbuf (
        .clk, .rst,
        .in_valid(fetch_rsp), .in_ready(unused_mb_in_ready),
        .in_data({dma_rsp_status, dma_rsp_data[511:304] != '0, dma_rsp_data[303:0]}),
        .out_valid(mb_valid), .out_ready(mb_pop), .out_data(mb_q),
        .count(mb_count)
    );
    wire [3:0]   mb_status = mb_q[308:305];
    wire         fetch_ok  = mb_status == DMA_OK;
    // The issue stage takes the next member (a handle lookup when it is good: not while handles are being
    // revoked and checked, as dequeues); I_BEND empties the buffer of entries after a failed read.
    wire         mb_take   = ist_q == I_FETCH && mb_valid && (!fetch_ok || !hdl_hold);
    assign mb_pop = mb_take || (ist_q == I_BEND && mb_valid);
    // (the check registers of the issue stage, see chk_pre_q: loaded with desc_q)
    wire        desc_load = (ist_q == I_WAIT && deq_valid && !deq_discard) || (ist_q == I_FETCH && mb_take && fetch_ok);
    always_ff @(posedge clk) begin
        if (desc_load) begin
            chk_pre_q    <= ld_chk.status;
            chk_pre_ok_q <= ld_chk.status == ST_SUCCESS;
            chk_hir_q    <= ld_chk.hir;
            chk_batch_q  <= ld_chk.batch;
            chk_mnz_q    <= ld_chk.mnz;
        end
    end
    assign f_fire = op_fire && sel_f;
    assign oprsp_pop      = cst_q == C_OPRSP && oprsp_valid;
    // (REG_OUT, Fmax: the answer's status and bytes from flip-flops; same behaviour cycle by cycle)
    imsdev_fifo #(.WIDTH(36), .DEPTH(INFLIGHT), .REG_OUT(1'b1)) u_oprsp (
        .clk, .rst,
        .in_valid(oprsp_in_valid), .in_ready(oprsp_in_ready), .in_data({dma_rsp_status, dma_rsp_bytes}),
        .out_valid(oprsp_valid), .out_ready(oprsp_pop), .out_data(oprsp_data),
        /* verilator lint_off PINCONNECTEMPTY */
        .count()
        /* verilator lint_on PINCONNECTEMPTY */
    );
    wire [3:0]  op_status = oprsp_data[35:32];
    wire [31:0] op_bytes  = oprsp_data[31:0];
    // A source read answered UR or CA is an address the host does not translate or serve: DSA's page fault
    // without Block-on-Fault (a read: status bit 7 stays 0). Poisoned data and a completion timeout are
    // hardware errors (DSA_COMP_HW_ERR1).
    wire op_page_fault = op_status == DMA_READ_UR || op_status == DMA_READ_CA;
    // With ATS (docs/ats_pri.md 2.6): a page whose translation did not grant the access is DSA's page fault
    // without BOF, bit 7 (DSA_COMP_STATUS_WRITE) for the destination; a failed translation (UR, CA, malformed,
    // timeout) is DSA_COMP_TRANSLATION_FAIL (0x22). Fault address = the side's start + bytes completed.
    wire op_xl_write = op_status == DMA_XL_WRITE_FAULT || op_status == DMA_XL_FAIL_WR
                       || op_status == DMA_XL_WRITE_FAULT_IR;
    // A batch entry is started only as the list's head (every member before it has had its record written
    // and its interrupt handed over) and once the interrupt path is quiet (every member's interrupt message
    // accepted on the link, pended or dropped): the batch record follows the members' interrupts. An
    // interrupt handed over in cycle c keeps irq_quiet low from c+1 on, when the head has moved.
    wire rc_ready = !rc.batch || (rp_q == head_q && irq_quiet);

    // The record stage is done with rp_q: a record handed over, or no record to write.
    wire needs_cr = rc.cr_ok && (rc.rcr || status_q != ST_SUCCESS);
    wire recorded = (cst_q == C_COMPLETE && !needs_cr) || cr_fire;
    // hd.is_ims from a flip-flop loaded every cycle (Fmax: the head entry's 8-to-1 select headed the
    // interrupt handshake -> pop -> valid_q / old_q / recorded_q). In N_IRQ the head is the one of the cycle
    // before (N_IRQ is entered without a pop and left with the one pop), and a valid entry is never
    // rewritten, so the copy equals hd.is_ims there; it is read nowhere else. Checked in simulation.
    logic irq_ims_q;
    wire irq_taken = irq_ims_q ? ims_irq_ready : msix_irq_ready;
    // The record write's answer: a fault (ATS: its page's translation denied W or failed) means no record was
    // written; the descriptor then retires like a NO_CR failure: SWERR CR_XLAT and no interrupt.
    wire cr_rsp   = nst_q == N_CRRSP && dma_rsp_valid && rsp_is_cr;
    wire cr_fault = cr_rsp && dma_rsp_status != DMA_OK;
    wire cr_irq   = hd.irq && !cr_fault;      // after the record's answer: the interrupt follows
    wire pop = (nst_q == N_IDLE && valid_q[head_q] && recorded_q[head_q] && !cr_q[head_q] && !hd.irq)
            || (cr_rsp && !cr_irq)
            || (nst_q == N_IRQ && irq_taken);
    assign cr_req = cst_q == C_CRCMD;

    // ================================================================== state
    always_ff @(posedge clk) begin
        if (rst) begin
            ist_q         <= I_IDLE;
            desc_q        <= '0;
            wq_q          <= '0;
            pasid_valid_q <= 1'b0;
            pasid_q       <= '0;
            priv_q        <= 1'b0;
            issue_old_q   <= 1'b0;
            chk_status_q  <= ST_SUCCESS;
            chk_irq_q     <= 1'b0;
            valid_q       <= '0;
            old_q         <= '0;
            head_q        <= '0;
            tail_q        <= '0;
            cst_q         <= C_IDLE;
            nst_q         <= N_IDLE;
            rp_q          <= '0;
            recorded_q    <= '0;
            cr_q          <= '0;
            status_q      <= ST_SUCCESS;
            wr_fault_q    <= 1'b0;
            op_fail_q     <= 1'b0;
            fault_base_q  <= '0;
            irq_ims_q     <= 1'b0;
            bytes_q       <= '0;
            fault_q       <= '0;
            hold_q        <= 1'b0;
            hold_cr_q     <= 1'b0;
            hold_f_q      <= 1'b0;
            f_idx_q       <= '0;
            f_out_q       <= '0;
            f_stop_q      <= 1'b0;
            in_batch_q    <= 1'b0;
            b_ent_q       <= '0;
            b_list_q      <= '0;
            b_fault_q     <= '0;
            b_cnt_q       <= '0;
            b_idx_q       <= '0;
            b_status_q    <= ST_SUCCESS;
            agg_fail_q    <= 1'b0;
        end else begin
            hold_q    <= dma_cmd_valid && !dma_cmd_ready;
            irq_ims_q <= hd.is_ims;
            hold_cr_q <= sel_cr;
            hold_f_q  <= sel_f;

            // ---- member prefetch
            if (f_fire) f_idx_q <= f_idx_q + 1'b1;
            f_out_q <= f_out_q + PFW'(f_fire) - PFW'(fetch_rsp);
            if (fetch_rsp && dma_rsp_status != DMA_OK) f_stop_q <= 1'b1;

            // ---- issue
            case (ist_q)
                I_IDLE: if (deq_grant) ist_q <= I_WAIT;
                I_WAIT: if (deq_valid && deq_discard) begin
                    ist_q <= I_IDLE;
                end else if (deq_valid) begin
                    desc_q        <= deq_desc;
                    wq_q          <= deq_wq;
                    pasid_valid_q <= deq_pasid_valid;
                    pasid_q       <= deq_pasid;
                    priv_q        <= deq_priv;
                    ist_q         <= I_CHECK;
                end
                I_CHECK: begin
                    // Loaded in every I_CHECK cycle, not only as the descriptor leaves (Fmax: their ~300 enables
                    // no longer wait on the fence check and the handle grant): chk_*_q are read only in I_CMD,
                    // which follows I_CHECK, and the batch's registers only while in_batch_q, which only the
                    // batch's start sets (and not while a batch is in progress: !in_batch_q). The last load,
                    // in the cycle the descriptor leaves I_CHECK, is the one that was made before.
                    chk_status_q <= check_status;
                    chk_irq_q    <= rci && handle_ok;
                    if (!in_batch_q) begin
                        b_ent_q    <= new_ent;
                        b_ent_q.batch <= 1'b1;
                        b_list_q   <= src;
                        b_cnt_q    <= CW'(xfer);     // count_ok: 2..MAX_BATCH
                        b_idx_q    <= '0;
                        b_status_q <= ST_SUCCESS;
                        b_fault_q  <= '0;
                    end
                    if (!fence_wait) begin
                        if (needs_op) begin
                            ist_q <= I_CMD;
                        end else if (batch_go) begin
                            ist_q      <= I_FETCH;
                            in_batch_q <= 1'b1;
                            f_idx_q    <= '0;
                            f_stop_q   <= 1'b0;
                        end else if (push_check) begin
                            ist_q <= (early_deq && deq_grant) ? I_WAIT : after_push;
                            if (in_batch_q) b_idx_q <= b_idx_next;
                        end
                    end
                end
                I_CMD: if (op_fire && !sel_f) begin
                    ist_q <= (early_deq && deq_grant) ? I_WAIT : after_push;
                    if (in_batch_q) b_idx_q <= b_idx_next;
                end
                I_FETCH: if (mb_take) begin
                    if (fetch_ok) begin
                        desc_q <= mb_desc;
                        ist_q  <= I_CHECK;
                    end else begin
                        // The list read failed: the members from here on are not run. UR/CA is DSA's batch
                        // page fault; poisoned data or a timeout a hardware error, as for a source read.
                        b_status_q <= (mb_status == DMA_READ_UR || mb_status == DMA_READ_CA
                                       || mb_status == DMA_XL_READ_FAULT || mb_status == DMA_XL_FAIL_RD
                                       || mb_status == DMA_XL_READ_FAULT_IR)
                                      ? ST_BATCH_PAGE_FAULT : ST_HW_ERR;
                        b_fault_q  <= b_list_q + {{(58 - CW){1'b0}}, b_idx_q, 6'd0};
                        ist_q      <= I_BEND;
                    end
                end
                I_BEND: if (push_batch) begin
                    ist_q      <= I_IDLE;
                    in_batch_q <= 1'b0;
                end
                default: ist_q <= I_IDLE;
            endcase
            if (ist_q == I_WAIT) issue_old_q <= deq_old || mark_inflight;
            else if (mark_inflight) issue_old_q <= 1'b1;

            // ---- in-flight list
            if (mark_inflight) old_q <= valid_q;
            // The tail slot is written in every cycle the issue stage could append to it (Fmax: its 2,000-odd
            // enables no longer wait on the append decision, push, which runs through the fence check, the
            // handle grant and the DMA command port's ready). A slot is read only while valid_q marks it
            // (every reader of ent_q is gated by valid_q, or shows data beside a valid that is low), and the
            // last write before valid_q rises is the push's own, so the list holds what it held before.
            if (ent_we) ent_q[tail_q] <= ist_q == I_BEND ? b_ent_done : new_ent;
            if (push) begin
                valid_q[tail_q] <= 1'b1;
                old_q[tail_q]   <= issue_old_q || mark_inflight;
                tail_q          <= tail_q + 1'b1;
            end
            if (pop) begin
                valid_q[head_q]    <= 1'b0;
                old_q[head_q]      <= 1'b0;
                recorded_q[head_q] <= 1'b0;
                head_q             <= head_q + 1'b1;
            end

            // ---- record stage
            case (cst_q)
                C_IDLE: begin
                    // The record's fields are loaded in every C_IDLE cycle, not only as the entry starts (Fmax:
                    // their ~100 enables no longer wait on the start condition): in C_IDLE nothing reads them
                    // (the record command, the SWERR report and the record / interrupt decisions come from
                    // later states), and the load in the start cycle is the one that was made before.
                    status_q   <= rc.status;
                    wr_fault_q <= 1'b0;
                    op_fail_q  <= 1'b0;
                    bytes_q    <= '0;
                    fault_q    <= '0;
                    if (rc.batch) begin
                        // A failed list read wins over failed members.
                        if (rc.status == ST_SUCCESS && agg_fail_q) status_q <= ST_BATCH_FAIL;
                        bytes_q    <= 32'(rc.bcount);
                        fault_q    <= rc.src;
                    end
                    if (valid_q[rp_q] && !recorded_q[rp_q] && rc_ready) begin
                        cst_q <= rc.has_op ? C_OPRSP : C_COMPLETE;
                        if (rc.batch) agg_fail_q <= 1'b0;
                    end
                end
                C_OPRSP: if (oprsp_valid) begin
                    bytes_q <= op_bytes;
                    // A successful operation whose record was asked for goes straight to the record's command
                    // (C_COMPLETE would decide just that: the status stays the check's SUCCESS).
                    if (op_status == DMA_OK && rc.status == ST_SUCCESS && rc.cr_ok && rc.rcr) cst_q <= C_CRCMD;
                    else                                                                        cst_q <= C_COMPLETE;
                    if (op_status != DMA_OK) begin
                        status_q <= op_page_fault ? ST_PAGE_FAULT : ST_HW_ERR;
                        if (op_status == DMA_XL_READ_FAULT || op_status == DMA_XL_WRITE_FAULT) status_q <= ST_PAGE_FAULT;
                        if (op_status == DMA_XL_FAIL_RD || op_status == DMA_XL_FAIL_WR)        status_q <= ST_XLATE_FAIL;
                        if (op_status == DMA_XL_READ_FAULT_IR || op_status == DMA_XL_WRITE_FAULT_IR)
                            status_q <= ST_PAGE_FAULT_IR;
                        wr_fault_q <= op_xl_write;
                    end
                    op_fail_q    <= op_status != DMA_OK;
                    fault_base_q <= op_xl_write ? rc.dst : rc.src;
                end
                C_COMPLETE: begin
                    cst_q <= needs_cr ? C_CRCMD : C_IDLE;
                    // The fault address of a failed operation: its side's start (fault_base_q: the destination
                    // for a write fault, else the source) + bytes completed (bytes_q), both taken in C_OPRSP.
                    // Fmax: added here, one cycle after the answer, so the answer's status, the list entry's
                    // select and a 64-bit carry are no longer in series. A failed operation always passes
                    // through C_COMPLETE, and only the record (C_CRCMD, later) carries fault_q.
                    if (op_fail_q) fault_q <= fault_base_q + 64'(bytes_q);
                    if (rc.member && status_q != ST_SUCCESS) agg_fail_q <= 1'b1;
                end
                C_CRCMD:    if (cr_fire) cst_q <= C_IDLE;
                default:    cst_q <= C_IDLE;
            endcase
            if (recorded) begin
                recorded_q[rp_q] <= 1'b1;
                cr_q[rp_q]       <= needs_cr;
                crst_q[rp_q]     <= status_q;
                rp_q             <= rp_q + 1'b1;
            end

            // ---- notify stage (record responses come in order, one per record written)
            case (nst_q)
                N_IDLE: if (valid_q[head_q] && recorded_q[head_q] && (cr_q[head_q] || hd.irq))
                    nst_q <= cr_q[head_q] ? N_CRRSP : N_IRQ;
                N_CRRSP: if (cr_rsp) nst_q <= cr_irq ? N_IRQ : N_IDLE;
                N_IRQ:   if (irq_taken) nst_q <= N_IDLE;
                default: nst_q <= N_IDLE;
            endcase
        end
    end

    // A descriptor is requested when the issue stage is idle, and also in the cycle the current one is
    // appended (its operation handed over, or appended without one), so a stream of descriptors issues one
    // every three cycles (I_WAIT, I_CHECK, I_CMD) instead of four. (Room is checked at the append.) Never in
    // I_WAIT, the cycle after a grant: the WQ manager applies a grant to its counts in that cycle.
    wire   issue_done = (ist_q == I_CMD && op_fire && !sel_f) || push_check;
    wire   early_deq  = issue_done && !in_batch_q;
    assign deq_req = ist_q == I_IDLE || early_deq;

    // A member's handle is looked up as its fetch answer is taken (the batch's WQ: its own IMS table).
    assign hdl_rd_en     = (ist_q == I_WAIT && deq_valid && !deq_discard) || (mb_take && fetch_ok);
    assign hdl_rd_handle = ist_q == I_FETCH ? mb_q[303:288] : deq_desc[303:288];
    assign hdl_rd_wq     = ist_q == I_FETCH ? wq_q : deq_wq;

    // ---- work-queue command bookkeeping
    // The issue stage holds a descriptor (a batch: from its dequeue until its own entry is appended).
    wire issuing = ist_q != I_IDLE && ist_q != I_WAIT;
    always_comb begin
        busy_wqs = '0;
        if (ist_q == I_WAIT && deq_valid && !deq_discard) busy_wqs[deq_wq] = 1'b1;
        if (issuing)                                     busy_wqs[wq_q]   = 1'b1;
        for (int i = 0; i < INFLIGHT; i++)
            if (valid_q[i]) busy_wqs[ent_q[i].wq] = 1'b1;
    end
    assign old_busy = (issuing && issue_old_q) || (old_q & valid_q) != '0;

    // ---- DMA commands: the operation or a member fetch (issue stage) or the 32-byte completion record
    // (retire stage)
    wire fetching = sel_f;
    assign dma_cmd_valid       = sel_cr ? cr_req : op_req;
    assign dma_cmd_op          = sel_cr ? DMA_OP_WRITE : fetching ? DMA_OP_FETCH
                                        : (opcode == OP_MEMFILL ? DMA_OP_FILL : DMA_OP_COPY);
    assign dma_cmd_pasid_valid = sel_cr ? rc.pasid_valid : pasid_valid_q;
    assign dma_cmd_pasid       = sel_cr ? rc.pasid : pasid_q;
    assign dma_cmd_priv        = sel_cr ? rc.priv : priv_q;
    assign dma_cmd_no_ats      = sel_cr ? wq_ats_disable[rc.wq] : wq_ats_disable[wq_q];
    // (a member fetch: the batch descriptor's)
    assign dma_cmd_bof         = sel_cr ? rc.bof : fetching ? b_ent_q.bof : bof;
    // (a record's command carries no source: the issue stage may take the next descriptor meanwhile)
    assign dma_cmd_src         = sel_cr ? 64'd0 : fetching ? b_list_q + {{(58 - CW){1'b0}}, f_idx_q, 6'd0} : src;
    assign dma_cmd_dst         = sel_cr ? rc.cr_addr : fetching ? 64'd0 : dst;
    assign dma_cmd_len         = sel_cr ? 32'd32 : fetching ? 32'd64 : xfer;
    // MEMFILL: the pattern sits in the source field, as in DSA (not a fetch's: desc_q may change under a
    // fetch held at the command port, when the issue stage takes the next member meanwhile)
    assign dma_cmd_pattern     = (sel_cr || fetching) ? 64'd0 : src;
    assign dma_cmd_wdata       = sel_cr ? {96'd0, 8'd0, rc.bad_flags, fault_q, bytes_q, 16'd0, 8'd0, wr_fault_q, status_q}
                                        : '0;
    assign dma_cmd_id          = sel_cr ? ID_CR : fetching ? ID_FETCH : ID_OP;

    assign ims_irq_valid   = nst_q == N_IRQ && irq_ims_q;
    assign ims_irq_wq      = hd.wq;
    assign ims_irq_index   = {5'd0, hd.hidx};
    assign ims_irq_pasid   = hd.pasid_valid ? hd.pasid : 20'd0;
    assign msix_irq_valid  = nst_q == N_IRQ && !irq_ims_q;
    assign msix_irq_vector = {5'd0, hd.hidx};

    // A failure nobody can read from a completion record goes to the software error log: no usable record
    // address (record stage), or a record write that faulted (notify stage, the head: the older descriptor).
    wire   no_cr_err    = cst_q == C_COMPLETE && status_q != ST_SUCCESS && !rc.cr_ok;
    assign err_valid    = no_cr_err || cr_fault;
    assign err_cr_xlat  = cr_fault;
    assign err_fault_rw = cr_fault ? 1'b1 : wr_fault_q;
    assign err_several  = no_cr_err && cr_fault;
    assign err_wq       = cr_fault ? 8'(hd.wq) : 8'(rc.wq);
    assign err_status   = cr_fault ? crst_q[head_q] : status_q;
    assign err_pasid    = cr_fault ? hd.pasid : rc.pasid;
    assign err_priv     = cr_fault ? hd.priv : rc.priv;
    assign err_opcode   = cr_fault ? hd.opcode : rc.opcode;
    assign err_addr     = cr_fault ? hd.cr_addr : rc.cr_addr;

`ifndef SYNTHESIS
    // The Fmax copies against what they stand for: irq_ims_q in N_IRQ (the only state that reads it), the
    // tail slot's write covering every append, and the fault address's base where it is added (armed as the
    // fetch_want check above).
    always_ff @(posedge clk) begin
        if (fw_check_q && !rst && nst_q == N_IRQ)
            assert (irq_ims_q == hd.is_ims)
                else $error("imsdev_desc_engine: irq_ims_q differs from the head entry's is_ims");
        if (fw_check_q && !rst && push)
            assert (ent_we) else $error("imsdev_desc_engine: an append without the tail slot's write");
        if (fw_check_q && !rst && cst_q == C_COMPLETE && op_fail_q)
            assert (fault_base_q == (wr_fault_q ? rc.dst : rc.src))
                else $error("imsdev_desc_engine: fault_base_q differs from the faulting side's start");
    end
`endif
endmodule

`default_nettype wire
