// Per-work-queue Interrupt Message Store (IMS): entry storage, pending bits and message engine.
//
// Software view (regs/imsdev.rdl, imsdev_ims_entry): each WQ has a window of WINDOW_BYTES (0x8000) at
// IMS + wq*WINDOW_BYTES holding IMS_PER_WQ 16-byte entries {ADDR_LO, ADDR_HI, DATA, CTRL}, laid out like
// the IDXD IMS slot. CTRL: MASK b0 (RW, reset 1), PENDING b1 (RO), PASID_EN b3 (RW), PASID [31:12] (RW);
// ADDR_LO[1:0] and the other CTRL bits read 0. Entries past IMS_PER_WQ and windows of WQs >= NUM_WQ read
// 0 and ignore writes.
//
// Storage: one 128-bit RAM word per (wq, index) {CTRL, DATA, ADDR_HI, ADDR_LO} at wq*IMS_PER_WQ + index,
// and one 64-bit RAM word of pending bits per 64 entries (same linear index), both simple dual-port RAMs.
// The PENDING bit that software reads comes from the pending RAM (the CTRL word stores it as 0); all
// pending-RAM reads and writes are made by the engine (single writer). After every reset (power-on or
// FLR, same rst) an initialisation sweep writes every entry with MASK=1 and everything else 0 and clears
// every pending word; MMIO and interrupt requests wait meanwhile (init_busy, NUM_WQ*IMS_PER_WQ cycles).
//
// Engine: a two-stage pipeline that takes one event per cycle, mirroring imsdev_msix.
//   S0 picks an event and issues the RAM reads (the whole entry in one read, the pending word).
//   S1 decides from that one read:
//     FIRE(wq, index, pasid)  PASID_EN=1 and pasid != PASID -> error PASID_MISMATCH, nothing else (not
//                             even PENDING: a client can never fire, or pend, another PASID's entry);
//                             else masked (MASK=1 or `blocked`) -> set PENDING; else send the message.
//     BAD(wq, index)          index >= IMS_PER_WQ or wq >= NUM_WQ -> error INDEX_OUT_OF_RANGE.
//     CHECK(entry)            PENDING set and deliverable -> send and clear PENDING.
//     READ/WRITE              MMIO; a write is a read-modify-write of the entry made in S1.
//   Every RAM write is made by S1. The only hazard (S1 writes the entry or pending word that S0 reads in
//   the same cycle; the RAM returns the old data) is closed by forwarding the last write of each RAM, so
//   S1 always decides on the state left by every earlier event.
//   A message is queued in a FIFO; S0 only admits an event that may send when the FIFO is sure to have
//   room, so S1 never stalls.
//
// Torn-message rule:
//   - Writes to ADDR_LO, ADDR_HI and DATA take effect only while the entry's MASK is 1 (as stored; the
//     function-level `blocked` does not count). A write to them while MASK=0 is dropped and reported on
//     err_* with IMS_ERR_WR_UNMASKED. CTRL writes always take effect.
//   - The engine reads the whole entry in one RAM read and decides from it, so every message is the
//     (address, data) pair the entry held, unmasked, at the cycle the message was decided; since address
//     and data cannot change while unmasked, that is the pair written before the last unmask.
//   - Writing CTRL with MASK=0 queues CHECK(entry) right after the write lands, so an entry unmasked
//     with PENDING set sends exactly once with the address/data it holds after the write.
//   - A CTRL write that changes PASID_EN or PASID clears PENDING: the pending event was raised under the
//     previous binding and must not reach the new owner. (Linux writes the same PASID|EN on every
//     mask/unmask, so ordinary masking keeps PENDING.)
//   Messages already decided (in the FIFO) are sent even if software masks the entry afterwards.
//
// Function-level blocking (`blocked`, e.g. Bus Master Enable = 0) pends like a mask. When it clears, a
// scanner issues CHECK for every entry of every pending word that has a bit set; it runs at lowest
// priority (interrupt requests go first), skips empty words, and simply skips entries that stay masked.
//
// Errors: err_valid is a one-cycle pulse with {err_code, err_wq, err_index, err_pasid}. err_pasid is
// the request's PASID for INDEX_OUT_OF_RANGE and PASID_MISMATCH, the entry's PASID field for
// WR_UNMASKED. A request with wq >= NUM_WQ is reported as INDEX_OUT_OF_RANGE (its handle names no entry).
//
// Timing (measured by tb/blocks/ims test_latency_throughput): an interrupt request accepted in cycle c
// (irq_valid && irq_ready high in c) has msg_valid high from cycle c+2 when the FIFO is empty: latency
// 2 cycles. Its error pulse, if any, is also in cycle c+2. Throughput: one request accepted and one
// message out per cycle sustained, for any number of entries, provided FIFO_DEPTH >= 4 and msg_ready
// stays high (with FIFO_DEPTH = 2 the credit, which counts the message in S1 and the one in the FIFO,
// admits 2 requests per 3 cycles).
// MMIO: a request accepted in cycle c is answered (rsp_valid) in cycle c+1; req_ready is low in c+1
// after a write, and also in c+2 after a CTRL write that leaves MASK=0 (until its CHECK is issued;
// longer if the FIFO has no room for it). Interrupt requests and MMIO share S0 (MMIO first), so each
// MMIO access takes one request slot.
`default_nettype none

module imsdev_ims #(
    parameter int NUM_WQ       = 8,
    parameter int IMS_PER_WQ   = 256,
    parameter int FIFO_DEPTH   = 4,
    // Byte stride of the per-WQ windows (regs/imsdev.rdl: IMS[8] @ 0x4_0000 += 0x8000).
    parameter int WINDOW_BYTES = 'h8000,
    // Width of the DW offsets of the MMIO port; the IMS region holds NUM_WQ windows.
    parameter int OFF_W        = 16,
    // Width of the WQ index on the interrupt-request and error ports: every window of the register map
    // (imsdev_top passes $clog2 of regs/imsdev.rdl's IMS count), so a request naming a WQ the build does not
    // have can still be told apart and reported (INDEX_OUT_OF_RANGE).
    parameter int WQ_W         = 3,
    localparam int ENTRIES     = NUM_WQ * IMS_PER_WQ,
    localparam int EW          = (ENTRIES > 1) ? $clog2(ENTRIES) : 1,
    localparam int PND_WORDS   = (ENTRIES + 63) / 64,
    localparam int PW          = (PND_WORDS > 1) ? $clog2(PND_WORDS) : 1,
    localparam int WIN_W       = $clog2(WINDOW_BYTES / 4)   // DW offset bits inside one window
) (
    input  wire logic             clk,
    input  wire logic             rst,

    // Function-level block (Bus Master Enable = 0, ...): requests for unmasked entries pend.
    input  wire logic             blocked,

    // MMIO port (one request outstanding; every request gets one rsp_valid, reads with data).
    // req_off is the DW offset inside the IMS region: wq = req_off / (WINDOW_BYTES/4),
    // entry = (req_off % (WINDOW_BYTES/4)) / 4, dword = req_off % 4.
    input  wire logic             req_valid,
    output      logic             req_ready,
    input  wire logic             req_write,
    input  wire logic [OFF_W-1:0] req_off,
    input  wire logic [31:0]      req_wdata,
    input  wire logic [3:0]       req_be,
    output      logic             rsp_valid,
    output      logic [31:0]      rsp_rdata,

    // Interrupt requests: one per accepted beat.
    input  wire logic             irq_valid,
    output      logic             irq_ready,
    input  wire logic [WQ_W-1:0]  irq_wq,
    input  wire logic [15:0]      irq_index,
    input  wire logic [19:0]      irq_pasid,

    // Message writes to send.
    output      logic             msg_valid,
    input  wire logic             msg_ready,
    output      logic [63:0]      msg_addr,
    output      logic [31:0]      msg_data,
    // Pulse: a message was decided (queued to send). The egress ordering unit counts it from here.
    output      logic             msg_commit,

    // Error report: one-cycle pulse per error (codes below).
    output      logic             err_valid,
    output      logic [7:0]       err_code,
    output      logic [WQ_W-1:0]  err_wq,
    output      logic [15:0]      err_index,
    output      logic [19:0]      err_pasid,

    output      logic             init_busy,

    // an event taken in cycle c is in S1 in c+1 and, if it sends, in the message FIFO (msg_valid) from

    // c+2: pipe_busy || msg_valid covers every interrupt taken until its message leaves (the batch rule)

    output      logic             pipe_busy,
    // nothing in progress that can send: no queued CHECK, no replay scan, nothing in S1 or the message FIFO
    // (imsdev_top's dev_idle). The reset sweep sends nothing and is left out, and so is a replay scan waiting
    // for it: no event is taken during the sweep, which clears every pending bit, so that scan finds none
    output      logic             idle
);
    // Error codes on err_code (to move into regs/imsdev.rdl with the software error log).
    localparam logic [7:0] IMS_ERR_WR_UNMASKED    = 8'h01;  // ADDR_LO/ADDR_HI/DATA write while MASK=0, dropped
    localparam logic [7:0] IMS_ERR_INDEX_RANGE    = 8'h02;  // request for index >= IMS_PER_WQ or wq >= NUM_WQ
    localparam logic [7:0] IMS_ERR_PASID_MISMATCH = 8'h03;  // request PASID differs from a PASID_EN entry's

    initial begin
        if (NUM_WQ < 1 || WQ_W < 1 || NUM_WQ > (1 << WQ_W))
            $fatal(1, "imsdev_ims: NUM_WQ (%0d) must be 1..2^WQ_W (WQ_W = %0d)", NUM_WQ, WQ_W);
        if (IMS_PER_WQ < 1 || IMS_PER_WQ > 2048) $fatal(1, "imsdev_ims: IMS_PER_WQ (%0d) must be 1..2048", IMS_PER_WQ);
        if (WINDOW_BYTES < 16 || (WINDOW_BYTES & (WINDOW_BYTES - 1)) != 0 || WINDOW_BYTES < IMS_PER_WQ * 16)
            $fatal(1, "imsdev_ims: WINDOW_BYTES (%0d) must be a power of two holding %0d entries", WINDOW_BYTES, IMS_PER_WQ);
        if (OFF_W <= WIN_W || (1 << (OFF_W - WIN_W)) < NUM_WQ)
            $fatal(1, "imsdev_ims: OFF_W (%0d) too narrow for %0d windows of %0d bytes", OFF_W, NUM_WQ, WINDOW_BYTES);
        if (FIFO_DEPTH < 2 || (FIFO_DEPTH & (FIFO_DEPTH - 1)) != 0)
            $fatal(1, "imsdev_ims: FIFO_DEPTH (%0d) must be a power of two >= 2 (>= 4 for one message per cycle)", FIFO_DEPTH);
    end

    typedef enum logic [2:0] {EV_FIRE, EV_BAD, EV_CHECK, EV_READ, EV_WRITE} ev_kind_e;

    // Field positions inside the 128-bit entry {CTRL, DATA, ADDR_HI, ADDR_LO}.
    localparam int CTRL_MASK_BIT     = 96;
    localparam int CTRL_PASID_EN_BIT = 99;
    localparam int CTRL_PASID_LSB    = 108;
    // CTRL bits software can write (MASK, PASID_EN, PASID); PENDING is never stored.
    localparam logic [31:0] CTRL_RW_BITS = 32'hFFFF_F009;

    // ---------------------------------------------------------------- reset initialisation sweep
    logic          init_q;
    logic [EW-1:0] init_idx_q;

    always_ff @(posedge clk) begin
        if (rst) begin
            init_q     <= 1'b1;
            init_idx_q <= '0;
        end else if (init_q) begin
            if (32'(init_idx_q) == ENTRIES - 1) init_q <= 1'b0;
            init_idx_q <= init_idx_q + 1'b1;
        end
    end
    assign init_busy = init_q;
    assign msg_commit = s1_send;

    // ---------------------------------------------------------------- storage
    logic           ent_wr_en;
    logic [EW-1:0]  ent_wr_addr;
    logic [127:0]   ent_wr_data;
    logic           ent_rd_en;
    logic [EW-1:0]  ent_rd_addr;
    logic [127:0]   ent_rd_data;

    // Whole-entry writes only (MMIO writes are merged in S1), so a single 128-bit lane.
    imsdev_ram_sdp #(.WIDTH(128), .DEPTH(ENTRIES), .LANE_W(128)) u_entries (
        .clk, .wr_en(ent_wr_en), .wr_addr(ent_wr_addr), .wr_data(ent_wr_data),
        .rd_en(ent_rd_en), .rd_addr(ent_rd_addr), .rd_data(ent_rd_data)
    );

    logic           pnd_wr_en;
    logic [PW-1:0]  pnd_wr_addr;
    logic [63:0]    pnd_wr_data;
    logic           pnd_rd_en;
    logic [PW-1:0]  pnd_rd_addr;
    logic [63:0]    pnd_rd_data;

    imsdev_ram_sdp #(.WIDTH(64), .DEPTH(PND_WORDS), .LANE_W(64)) u_pending (
        .clk, .wr_en(pnd_wr_en), .wr_addr(pnd_wr_addr), .wr_data(pnd_wr_data),
        .rd_en(pnd_rd_en), .rd_addr(pnd_rd_addr), .rd_data(pnd_rd_data)
    );

    // One summary bit per pending word: lets the replay scanner skip words with nothing pending.
    logic [PND_WORDS-1:0] pnd_nonzero_q;

    function automatic logic [EW-1:0] lin_index(input logic [WQ_W-1:0] wq, input logic [15:0] index);
        return EW'(32'(wq) * IMS_PER_WQ + 32'(index));
    endfunction

    function automatic logic [PW-1:0] pnd_word(input logic [EW-1:0] lin);
        return PW'(32'(lin) / 64);
    endfunction

    // ---------------------------------------------------------------- MMIO decode
    wire [OFF_W-WIN_W-1:0] req_wq    = req_off[OFF_W-1:WIN_W];
    wire [WIN_W-3:0]       req_entry = req_off[WIN_W-1:2];
    wire [1:0]             req_dw    = req_off[1:0];
    wire req_in_range = 32'(req_wq) < NUM_WQ && 32'(req_entry) < IMS_PER_WQ;

    wire irq_in_range = 32'(irq_wq) < NUM_WQ && 32'(irq_index) < IMS_PER_WQ;

    // An unmasking CTRL write leaves a CHECK to be issued once the write has landed.
    logic          check_q;
    logic [EW-1:0] check_lin_q;

    // ---------------------------------------------------------------- S0: event selection
    logic           s1_valid_q;
    assign pipe_busy = s1_valid_q;
    ev_kind_e       s1_kind_q;
    logic [EW-1:0]  s1_lin_q;
    logic [WQ_W-1:0] s1_wq_q;
    logic [15:0]    s1_idx_q;
    logic [19:0]    s1_pasid_q;
    logic [1:0]     s1_dw_q;
    logic           s1_blank_q;   // MMIO access to an unimplemented entry: read 0, write ignored
    logic [31:0]    s1_wdata_q;
    logic [3:0]     s1_be_q;
    logic [63:0]    s1_bitmask_q;  // one-hot: the event's bit in its pending word (decoded in S0)

    logic [$clog2(FIFO_DEPTH+1)-1:0] fifo_count;
    wire  s1_may_send = s1_valid_q && (s1_kind_q == EV_FIRE || s1_kind_q == EV_CHECK);
    // Room for one more message even if S1 sends this cycle and nothing drains.
    wire  send_credit = (32'(fifo_count) + (s1_may_send ? 1 : 0)) < FIFO_DEPTH;

    logic          scan_q;
    logic [EW-1:0] scan_lin_q;
    wire [PW-1:0]  scan_word = pnd_word(scan_lin_q);
    wire           scan_word_nonzero = pnd_nonzero_q[scan_word];

    logic          s0_valid;
    ev_kind_e      s0_kind;
    logic [EW-1:0] s0_lin;
    logic [WQ_W-1:0] s0_wq;
    logic [15:0]   s0_idx;
    logic          s0_blank;
    logic          take_irq, take_scan, take_check;

    // No MMIO request while an unmasking write's CHECK is outstanding, nor while a write is in S1 (it
    // may be about to queue that CHECK).
    assign req_ready = !init_q && !check_q && !(s1_valid_q && s1_kind_q == EV_WRITE);

    always_comb begin
        s0_valid   = 1'b0;
        s0_kind    = EV_FIRE;
        s0_lin     = lin_index(irq_wq, irq_index);
        s0_wq      = irq_wq;
        s0_idx     = irq_index;
        s0_blank   = 1'b0;
        take_irq   = 1'b0;
        take_scan  = 1'b0;
        take_check = 1'b0;
        if (!init_q) begin
            if (check_q) begin
                if (send_credit) begin
                    take_check = 1'b1;
                    s0_valid   = 1'b1;
                    s0_kind    = EV_CHECK;
                    s0_lin     = check_lin_q;
                end
            end else if (req_valid && req_ready) begin
                s0_valid = 1'b1;
                s0_kind  = req_write ? EV_WRITE : EV_READ;
                s0_lin   = lin_index(WQ_W'(req_wq), 16'(req_entry));
                s0_wq    = WQ_W'(req_wq);
                s0_idx   = 16'(req_entry);
                s0_blank = !req_in_range;
            end
            if (!s0_valid) begin
                if (irq_valid && !irq_in_range) begin
                    take_irq = 1'b1;
                    s0_valid = 1'b1;
                    s0_kind  = EV_BAD;
                end else if (irq_valid && send_credit) begin
                    take_irq = 1'b1;
                    s0_valid = 1'b1;
                    s0_kind  = EV_FIRE;
                end else if (scan_q && scan_word_nonzero && !blocked && send_credit) begin
                    take_scan = 1'b1;
                    s0_valid  = 1'b1;
                    s0_kind   = EV_CHECK;
                    s0_lin    = scan_lin_q;
                end
            end
        end
    end

    assign irq_ready = take_irq;

    // BAD and MMIO accesses to unimplemented entries use no RAM data: no read (their index may lie
    // outside the RAM).
    wire s0_reads = s0_valid && s0_kind != EV_BAD && !s0_blank;
    assign ent_rd_en   = s0_reads;
    assign ent_rd_addr = s0_lin;
    assign pnd_rd_en   = s0_reads;
    assign pnd_rd_addr = pnd_word(s0_lin);

    // ---------------------------------------------------------------- S1
    logic [127:0]  fwd_ent_data_q;   // what S1 wrote last cycle (entry / pending word)
    logic [63:0]   fwd_pnd_data_q;

    // Timing (Fmax): S1 is the long path (RAM data -> forward -> decision -> RAM write). What can be known a
    // cycle early is registered in S0: the event's one-hot bit and whether the write S1 makes now is the
    // one the next event must forward (fwd_*_hit_q). The RAM write enables depend on registers only
    // (s1_ent_we / s1_pnd_we): an S1 event that may change its entry or pending word always writes it back,
    // unchanged when its decision leaves it so, and the decision only shapes the written data.
    logic          fwd_ent_hit_q;
    logic          fwd_pnd_hit_q;
    wire [PW-1:0] s1_word  = pnd_word(s1_lin_q);
    wire [127:0]  ent_cur  = fwd_ent_hit_q ? fwd_ent_data_q : ent_rd_data;
    wire [63:0]   pnd_cur  = fwd_pnd_hit_q ? fwd_pnd_data_q : pnd_rd_data;
    wire          ent_mask     = ent_cur[CTRL_MASK_BIT];
    wire          ent_pasid_en = ent_cur[CTRL_PASID_EN_BIT];
    wire [19:0]   ent_pasid    = ent_cur[CTRL_PASID_LSB +: 20];
    wire          s1_masked    = ent_mask || blocked;
    wire          s1_pend      = |(pnd_cur & s1_bitmask_q);

    wire [31:0]   s1_be_bits = {{8{s1_be_q[3]}}, {8{s1_be_q[2]}}, {8{s1_be_q[1]}}, {8{s1_be_q[0]}}};
    wire [31:0]   s1_old_dw  = ent_cur[s1_dw_q*32 +: 32];
    wire [31:0]   s1_merged  = (s1_old_dw & ~s1_be_bits) | (s1_wdata_q & s1_be_bits);

    logic         s1_send;
    logic         s1_ent_we;
    logic [127:0] s1_ent_new;
    logic         s1_pnd_we;
    logic [63:0]  s1_pnd_new;
    logic         s1_check;
    logic         s1_err;
    logic [7:0]   s1_err_code;
    logic [19:0]  s1_err_pasid;
    logic [31:0]  s1_ctrl_new;

    // Write-back enables: every event that may change its entry (an MMIO write to an implemented entry) or
    // its pending word (FIRE, CHECK, a CTRL write) writes it, from S1's registers alone.
    wire s1_mmio_wr = s1_valid_q && s1_kind_q == EV_WRITE && !s1_blank_q && s1_be_q != 4'd0;
    assign s1_ent_we = s1_mmio_wr;
    assign s1_pnd_we = s1_valid_q && (s1_kind_q == EV_FIRE || s1_kind_q == EV_CHECK)
                       || (s1_mmio_wr && s1_dw_q == 2'd3);

    // |s1_pnd_new for pnd_nonzero_q, from the decision's three outcomes computed side by side with it (the
    // word unchanged, its bit set, its bit cleared): the decision selects a bit instead of feeding a 64-bit
    // mux and then a 64-input OR (the IMS's deepest cone, sim/synth_depth.py).
    logic         s1_pnd_nz;
    wire          pnd_cur_nz     = |pnd_cur;
    wire          pnd_cur_nz_clr = |(pnd_cur & ~s1_bitmask_q);

    always_comb begin
        s1_send      = 1'b0;
        s1_ent_new   = ent_cur;
        s1_pnd_new   = pnd_cur;
        s1_pnd_nz    = pnd_cur_nz;
        s1_check     = 1'b0;
        s1_err       = 1'b0;
        s1_err_code  = '0;
        s1_err_pasid = s1_pasid_q;
        s1_ctrl_new  = s1_merged & CTRL_RW_BITS;
        if (s1_valid_q) begin
            case (s1_kind_q)
                EV_FIRE: begin
                    if (ent_pasid_en && s1_pasid_q != ent_pasid) begin
                        s1_err      = 1'b1;
                        s1_err_code = IMS_ERR_PASID_MISMATCH;
                    end else if (s1_masked) begin
                        s1_pnd_new = pnd_cur | s1_bitmask_q;
                        s1_pnd_nz  = 1'b1;                          // (s1_bitmask_q is one-hot)
                    end else begin
                        s1_send = 1'b1;
                    end
                end
                EV_BAD: begin
                    s1_err      = 1'b1;
                    s1_err_code = IMS_ERR_INDEX_RANGE;
                end
                EV_CHECK: begin
                    if (s1_pend && !s1_masked) begin
                        s1_send    = 1'b1;
                        s1_pnd_new = pnd_cur & ~s1_bitmask_q;
                        s1_pnd_nz  = pnd_cur_nz_clr;
                    end
                end
                EV_WRITE: begin
                    if (!s1_blank_q && s1_be_q != 4'd0) begin
                        if (s1_dw_q == 2'd3) begin
                            s1_ent_new[96 +: 32] = s1_ctrl_new;
                            // A new PASID binding drops what was pending under the old one.
                            if (s1_pend && (s1_ctrl_new[3] != ent_pasid_en || s1_ctrl_new[31:12] != ent_pasid)) begin
                                s1_pnd_new = pnd_cur & ~s1_bitmask_q;
                                s1_pnd_nz  = pnd_cur_nz_clr;
                            end
                            s1_check = !s1_ctrl_new[0];
                        end else if (ent_mask) begin
                            s1_ent_new[s1_dw_q*32 +: 32] = (s1_dw_q == 2'd0) ? {s1_merged[31:2], 2'b00} : s1_merged;
                        end else begin
                            s1_err       = 1'b1;
                            s1_err_code  = IMS_ERR_WR_UNMASKED;
                            s1_err_pasid = ent_pasid;
                        end
                    end
                end
                default: ;
            endcase
        end
    end

    // RAM writes: the init sweep, then S1 only.
    always_comb begin
        ent_wr_en   = s1_ent_we;
        ent_wr_addr = s1_lin_q;
        ent_wr_data = s1_ent_new;
        pnd_wr_en   = s1_pnd_we;
        pnd_wr_addr = s1_word;
        pnd_wr_data = s1_pnd_new;
        if (init_q) begin
            ent_wr_en   = 1'b1;
            ent_wr_addr = init_idx_q;
            ent_wr_data = '0;
            ent_wr_data[CTRL_MASK_BIT] = 1'b1;
            pnd_wr_en   = 32'(init_idx_q) < PND_WORDS;
            pnd_wr_addr = PW'(init_idx_q);
            pnd_wr_data = '0;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            s1_valid_q      <= 1'b0;
            s1_kind_q       <= EV_FIRE;
            s1_lin_q        <= '0;
            s1_wq_q         <= '0;
            s1_idx_q        <= '0;
            s1_pasid_q      <= '0;
            s1_dw_q         <= '0;
            s1_blank_q      <= 1'b0;
            s1_wdata_q      <= '0;
            s1_be_q         <= '0;
            s1_bitmask_q    <= '0;
            fwd_ent_hit_q   <= 1'b0;
            fwd_pnd_hit_q   <= 1'b0;
            fwd_ent_data_q  <= '0;
            fwd_pnd_data_q  <= '0;
            pnd_nonzero_q   <= '0;
            check_q         <= 1'b0;
            check_lin_q     <= '0;
        end else begin
            s1_valid_q <= s0_valid;
            s1_kind_q  <= s0_kind;
            s1_lin_q   <= s0_lin;
            s1_wq_q    <= s0_wq;
            s1_idx_q   <= s0_idx;
            s1_pasid_q <= irq_pasid;
            s1_dw_q    <= req_dw;
            s1_blank_q <= s0_blank;
            s1_wdata_q <= req_wdata;
            s1_be_q    <= req_be;
            s1_bitmask_q <= 64'd1 << (32'(s0_lin) % 64);
            // The next S1 event (this S0 event) reads the RAM before the write S1 makes now has landed.
            fwd_ent_hit_q <= s1_ent_we && s1_lin_q == s0_lin;
            fwd_pnd_hit_q <= s1_pnd_we && s1_word == pnd_word(s0_lin);
            fwd_ent_data_q  <= s1_ent_new;
            fwd_pnd_data_q  <= s1_pnd_new;
            if (s1_pnd_we) pnd_nonzero_q[s1_word] <= s1_pnd_nz;      // = |s1_pnd_new (checked below)
            // req_ready keeps MMIO writes (and so new CHECKs) out while a CHECK is outstanding.
            if (s1_check) begin
                check_q     <= 1'b1;
                check_lin_q <= s1_lin_q;
            end else if (take_check) begin
                check_q <= 1'b0;
            end
        end
    end

    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic checks_on_q;
    initial checks_on_q = 1'b0;
    always_ff @(posedge clk) if (rst) checks_on_q <= 1'b1;

    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && s1_check && check_q) $error("imsdev_ims: unmask CHECK queued while another is outstanding");
    end

    // MMIO responses: reads and writes from S1 (a write has landed at the end of that cycle).
    always_comb begin
        rsp_valid = s1_valid_q && (s1_kind_q == EV_READ || s1_kind_q == EV_WRITE);
        rsp_rdata = '0;
        if (s1_valid_q && s1_kind_q == EV_READ && !s1_blank_q) begin
            rsp_rdata = ent_cur[s1_dw_q*32 +: 32];
            if (s1_dw_q == 2'd3) rsp_rdata[1] = s1_pend;
        end
    end

    // ---------------------------------------------------------------- error report
    logic        err_valid_q;
    logic [7:0]  err_code_q;
    logic [WQ_W-1:0] err_wq_q;
    logic [15:0] err_index_q;
    logic [19:0] err_pasid_q;

    always_ff @(posedge clk) begin
        if (rst) begin
            err_valid_q <= 1'b0;
            err_code_q  <= '0;
            err_wq_q    <= '0;
            err_index_q <= '0;
            err_pasid_q <= '0;
        end else begin
            err_valid_q <= s1_err;
            if (s1_err) begin
                err_code_q  <= s1_err_code;
                err_wq_q    <= s1_wq_q;
                err_index_q <= s1_idx_q;
                err_pasid_q <= s1_err_pasid;
            end
        end
    end
    assign err_valid = err_valid_q;
    assign err_code  = err_code_q;
    assign err_wq    = err_wq_q;
    assign err_index = err_index_q;
    assign err_pasid = err_pasid_q;

    // ---------------------------------------------------------------- replay scanner
    logic blocked_q;
    always_ff @(posedge clk) begin
        if (rst) begin
            blocked_q  <= 1'b1;
            scan_q     <= 1'b0;
            scan_lin_q <= '0;
        end else begin
            blocked_q <= blocked;
            if (blocked_q && !blocked) begin
                scan_q     <= 1'b1;      // (re)start from entry 0
                scan_lin_q <= '0;
            end else if (scan_q && blocked) begin
                scan_q <= 1'b0;          // blocked again: the next unblock restarts the scan
            end else if (scan_q && !init_q) begin
                if (!scan_word_nonzero) begin
                    if (32'(scan_word) == PND_WORDS - 1) scan_q <= 1'b0;
                    scan_lin_q <= EW'((32'(scan_word) + 1) * 64);
                end else if (take_scan) begin
                    if (32'(scan_lin_q) == ENTRIES - 1) scan_q <= 1'b0;
                    scan_lin_q <= scan_lin_q + 1'b1;
                end
            end
        end
    end

    // ---------------------------------------------------------------- message FIFO
    logic msg_fifo_ready;
    imsdev_fifo #(.WIDTH(96), .DEPTH(FIFO_DEPTH)) u_msg_fifo (
        .clk, .rst,
        .in_valid(s1_send), .in_ready(msg_fifo_ready),
        .in_data({ent_cur[95:64], ent_cur[63:32], ent_cur[31:2], 2'b00}),
        .out_valid(msg_valid), .out_ready(msg_ready), .out_data({msg_data, msg_addr}),
        .count(fifo_count)
    );

    // send_credit guarantees room; a push into a full FIFO would lose an interrupt.
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && s1_send && !msg_fifo_ready) $error("imsdev_ims: message FIFO overflow");
    end
    // s1_pnd_nz is the OR of the pending word written (what pnd_nonzero_q kept before it); in this file's form
    // (`if (...) $error`, a proof obligation in formal/)
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && !init_q && s1_pnd_we && s1_pnd_nz != |s1_pnd_new)
            $error("imsdev_ims: s1_pnd_nz differs from the written word");
    end
    // ---------------------------------------------------------------- idle (imsdev_top dev_idle)
    assign idle      = !check_q && !(scan_q && !init_q) && !s1_valid_q && !msg_valid;
endmodule

`default_nettype wire
