// MSI-X table, Pending Bit Array and message engine (PCIe Base r6.3 §6.1.4, §7.7.2).
//
// Storage: the table is one 128-bit RAM word per vector {VectorCtrl, Data, AddrHi, AddrLo} and the PBA
// one 64-bit RAM word per 64 vectors, both simple dual-port RAMs. A third RAM holds each vector's *armed*
// pair {Data, AddrHi, AddrLo}: the (address, data) its messages carry. After every reset (power-on or FLR)
// an initialisation sweep writes every entry with Mask=1 and Address/Data 0, every armed pair 0, and clears
// every PBA word; MMIO and interrupt requests wait until it finishes (VECTORS cycles).
//
// No torn messages: a message never mixes an old and a new half of an entry being rewritten. The table
// always reads back what software wrote (§7.7.2), but messages use the armed pair, which takes the table's
// whole pair only at a commit point:
//   - an Address/Data write while the vector cannot send (entry masked, Function Mask, MSI-X disabled or
//     Bus Master Enable off): the normal case, §6.1.4.2's "mask, rewrite, unmask";
//   - a Vector Control write with Mask=0 (unmask, or re-writing Mask=0), which also replays Pending.
// An Address/Data write to a vector that can send is undefined by §6.1.4.2: it is reported on unmasked_write
// (the top logs it in ERR as MSIX_UNMASKED_WRITE) and changes no message until the next commit point, so
// a driver that rewrites an unmasked entry (in any order of its DWs) publishes it by writing Vector Control.
// Committing on the Data write instead would serve drivers writing Address first and tear for the others.
//
// Engine: a two-stage pipeline that takes one event per cycle.
//   S0 picks an event and issues the RAM reads (table entry, PBA word).
//   S1 decides: FIRE(v) sends the message if the vector is deliverable, else sets Pending;
//               CHECK(v) sends and clears Pending if Pending is set and the vector is now deliverable;
//               TREAD/PREAD return MMIO read data.
// All PBA reads and writes are made by the engine, so Pending is updated by a single writer; the only
// hazard (S1 writes the word S0 is reading) is closed by forwarding the last write.
// A message is queued in a FIFO; S0 only admits an event that may send when the FIFO is sure to have room,
// so S1 never stalls and the engine sustains one message per cycle.
//
// Replay rules:
//  - Writing VectorCtrl with Mask=0 queues CHECK(v) right after the write lands (a commit CHECK: it also
//    arms the table's pair), so an entry unmasked with Pending set sends exactly once with the address/data
//    it holds after the write. An Address/Data write queues NOTE(v), which reads the entry back and commits
//    or reports it (above); NOTE never sends.
//  - When the function becomes deliverable (Enable 0->1, Function Mask 1->0, Bus Master Enable 0->1) a
//    scanner issues CHECK for every vector of every PBA word that has a bit set. It runs at lowest
//    priority and skips empty words, and a vector that stays masked is simply skipped, so it never holds
//    up the replay of the vectors after it.
// Pending bits of vectors whose cause goes away are not cleared: every interrupt this device raises is an
// event (a completion, an error record), not a level.
`default_nettype none

module imsdev_msix #(
    parameter int VECTORS    = 2048,
    parameter int FIFO_DEPTH = 4,
    // Width of the DW offsets of the MMIO port; the table region holds VECTORS*4 DWs.
    parameter int OFF_W      = 14,
    localparam int VW        = (VECTORS > 1) ? $clog2(VECTORS) : 1,
    localparam int PBA_WORDS = (VECTORS + 63) / 64,
    localparam int PW        = (PBA_WORDS > 1) ? $clog2(PBA_WORDS) : 1
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic             cfg_msix_en,
    input  wire logic             cfg_msix_fn_mask,
    input  wire logic             cfg_bus_master_en,

    // MMIO port (one request outstanding; every request gets one rsp_valid, reads with data).
    // req_pba selects the PBA region, req_off is the DW offset inside the selected region.
    input  wire logic             req_valid,
    output      logic             req_ready,
    input  wire logic             req_write,
    input  wire logic             req_pba,
    input  wire logic [OFF_W-1:0] req_off,
    input  wire logic [31:0]      req_wdata,
    input  wire logic [3:0]       req_be,
    output      logic             rsp_valid,
    output      logic [31:0]      rsp_rdata,

    // Interrupt requests: one per accepted beat.
    input  wire logic             irq_valid,
    output      logic             irq_ready,
    input  wire logic [15:0]      irq_vector,
    output      logic             irq_bad_vector,   // pulse: a request named a vector >= VECTORS (dropped)

    // Message writes to send.
    output      logic             msg_valid,
    input  wire logic             msg_ready,
    output      logic [63:0]      msg_addr,
    output      logic [31:0]      msg_data,
    // Pulse: a message was decided (queued to send). The egress ordering unit counts it from here.
    output      logic             msg_commit,

    // Pulse: an Address/Data write landed while its vector could send (undefined by §6.1.4.2).
    output      logic             unmasked_write,
    output      logic [VW-1:0]    unmasked_write_vec,
    output      logic [1:0]       unmasked_write_dw,

    output      logic             init_busy,

    // an event taken in cycle c is in S1 in c+1 and, if it sends, in the message FIFO (msg_valid) from

    // c+2: pipe_busy || msg_valid covers every interrupt taken until its message leaves (the batch rule)

    output      logic             pipe_busy,
    // nothing in progress that can send: no queued CHECK/NOTE, no replay scan, nothing in S1 or the message
    // FIFO (imsdev_top's dev_idle). The reset sweep sends nothing and is left out, and so is a replay scan
    // waiting for it: no event is taken during the sweep, which clears every pending bit, so the scan finds
    // none
    output      logic             idle
);
    initial begin
        if (VECTORS < 1 || VECTORS > 2048) $fatal(1, "imsdev_msix: VECTORS (%0d) must be 1..2048 (PCIe Table Size limit)", VECTORS);
        if (OFF_W < $clog2(VECTORS * 4 + 1)) $fatal(1, "imsdev_msix: OFF_W (%0d) too narrow for %0d vectors", OFF_W, VECTORS);
        if (FIFO_DEPTH < 2) $fatal(1, "imsdev_msix: FIFO_DEPTH must be at least 2");
    end

    typedef enum logic [2:0] {EV_FIRE, EV_CHECK, EV_TREAD, EV_PREAD, EV_NOTE} ev_kind_e;

    localparam int INIT_LEN = (VECTORS > PBA_WORDS) ? VECTORS : PBA_WORDS;
    localparam int CTRL_MASK_BIT = 96;  // VectorCtrl bit 0 inside the 128-bit entry

    // ---------------------------------------------------------------- reset initialisation sweep
    logic          init_q;
    logic [VW-1:0] init_idx_q;

    always_ff @(posedge clk) begin
        if (rst) begin
            init_q     <= 1'b1;
            init_idx_q <= '0;
        end else if (init_q) begin
            if (32'(init_idx_q) == INIT_LEN - 1) init_q <= 1'b0;
            init_idx_q <= init_idx_q + 1'b1;
        end
    end
    assign init_busy = init_q;
    assign msg_commit = s1_send;

    // ---------------------------------------------------------------- storage
    logic [15:0]    tbl_wr_en;
    logic [VW-1:0]  tbl_wr_addr;
    logic [127:0]   tbl_wr_data;
    logic           tbl_rd_en;
    logic [VW-1:0]  tbl_rd_addr;
    logic [127:0]   tbl_rd_data;

    imsdev_ram_sdp #(.WIDTH(128), .DEPTH(VECTORS), .LANE_W(8)) u_table (
        .clk, .wr_en(tbl_wr_en), .wr_addr(tbl_wr_addr), .wr_data(tbl_wr_data),
        .rd_en(tbl_rd_en), .rd_addr(tbl_rd_addr), .rd_data(tbl_rd_data)
    );

    logic           pba_wr_en;
    logic [PW-1:0]  pba_wr_addr;
    logic [63:0]    pba_wr_data;
    logic           pba_rd_en;
    logic [PW-1:0]  pba_rd_addr;
    logic [63:0]    pba_rd_data;

    imsdev_ram_sdp #(.WIDTH(64), .DEPTH(PBA_WORDS), .LANE_W(64)) u_pba (
        .clk, .wr_en(pba_wr_en), .wr_addr(pba_wr_addr), .wr_data(pba_wr_data),
        .rd_en(pba_rd_en), .rd_addr(pba_rd_addr), .rd_data(pba_rd_data)
    );

    // Armed pairs {Data, AddrHi, AddrLo}: what messages carry (see the header: no torn messages).
    logic           arm_wr_en;
    logic [VW-1:0]  arm_wr_addr;
    logic [95:0]    arm_wr_data;
    logic [95:0]    arm_rd_data;

    imsdev_ram_sdp #(.WIDTH(96), .DEPTH(VECTORS), .LANE_W(96)) u_armed (
        .clk, .wr_en(arm_wr_en), .wr_addr(arm_wr_addr), .wr_data(arm_wr_data),
        .rd_en(tbl_rd_en), .rd_addr(tbl_rd_addr), .rd_data(arm_rd_data)
    );

    // One summary bit per PBA word: lets the replay scanner skip words with nothing pending.
    logic [PBA_WORDS-1:0] pba_nonzero_q;

    // ---------------------------------------------------------------- MMIO decode
    // DW offset -> (entry, dword) for the table, (word, half) for the PBA.
    wire [OFF_W-3:0] req_entry = req_off[OFF_W-1:2];
    wire [1:0]       req_dw    = req_off[1:0];
    wire [OFF_W-2:0] req_word  = req_off[OFF_W-1:1];
    wire             req_in_table = !req_pba && (32'(req_entry) < VECTORS);
    wire             req_in_pba   =  req_pba && (32'(req_word) < PBA_WORDS);

    // An unmasking VectorCtrl write leaves a commit CHECK to be issued once the write has landed, an
    // Address/Data write a NOTE; a write is one DW, so at most one of them is queued.
    logic          check_q;
    logic [VW-1:0] check_vec_q;
    logic          note_q;
    logic [VW-1:0] note_vec_q;
    logic [1:0]    note_dw_q;
    logic          wr_rsp_q;

    // ---------------------------------------------------------------- S0: event selection
    logic           blocked;   // nothing may be sent by the function as a whole
    assign blocked = !cfg_msix_en || cfg_msix_fn_mask || !cfg_bus_master_en;

    logic           s1_valid_q;
    assign pipe_busy = s1_valid_q;
    ev_kind_e       s1_kind_q;
    logic [VW-1:0]  s1_vec_q;
    logic [1:0]     s1_dw_q;
    logic           s1_blank_q;   // MMIO read of an unimplemented offset: answer 0
    logic           s1_commit_q;  // the CHECK of an unmasking write: arms the table's pair

    logic [$clog2(FIFO_DEPTH+1)-1:0] fifo_count;
    wire  s1_may_send = s1_valid_q && (s1_kind_q == EV_FIRE || s1_kind_q == EV_CHECK);
    // Room for one more message even if S1 sends this cycle and nothing drains.
    wire  send_credit = (32'(fifo_count) + (s1_may_send ? 1 : 0)) < FIFO_DEPTH;

    logic          scan_q;
    logic [VW-1:0] scan_vec_q;
    wire [PW-1:0]  scan_word = PW'(scan_vec_q >> 6);
    wire           scan_word_nonzero = pba_nonzero_q[scan_word];

    logic          s0_valid;
    ev_kind_e      s0_kind;
    logic [VW-1:0] s0_vec;
    logic [1:0]    s0_dw;
    logic          s0_blank;
    logic          s0_commit;
    logic          take_irq, take_scan, take_mmio_write;

    wire irq_in_range = 32'(irq_vector) < VECTORS;

    always_comb begin
        s0_valid = 1'b0;
        s0_kind  = EV_FIRE;
        s0_vec   = '0;
        s0_dw    = '0;
        s0_blank = 1'b0;
        s0_commit = 1'b0;
        take_mmio_write = 1'b0;
        take_irq        = 1'b0;
        take_scan       = 1'b0;
        if (!init_q) begin
            if (check_q) begin
                if (send_credit) begin
                    s0_valid  = 1'b1;
                    s0_kind   = EV_CHECK;
                    s0_vec    = check_vec_q;
                    s0_commit = 1'b1;
                end
            end else if (note_q) begin
                s0_valid = 1'b1;          // never sends: needs no FIFO credit
                s0_kind  = EV_NOTE;
                s0_vec   = note_vec_q;
                s0_dw    = note_dw_q;
            end else if (req_valid && req_write) begin
                take_mmio_write = 1'b1;
            end else if (req_valid) begin
                s0_valid = 1'b1;
                s0_kind  = req_pba ? EV_PREAD : EV_TREAD;
                s0_vec   = req_pba ? VW'({req_word, 6'd0}) : VW'(req_entry);
                s0_dw    = req_pba ? {1'b0, req_off[0]} : req_dw;
                s0_blank = req_pba ? !req_in_pba : !req_in_table;
            end
            if (!s0_valid && !take_mmio_write) begin
                if (irq_valid && !irq_in_range) begin
                    take_irq = 1'b1;   // dropped, reported through irq_bad_vector
                end else if (irq_valid && send_credit) begin
                    take_irq = 1'b1;
                    s0_valid = 1'b1;
                    s0_kind  = EV_FIRE;
                    s0_vec   = VW'(irq_vector);
                end else if (scan_q && scan_word_nonzero && !blocked && send_credit) begin
                    take_scan = 1'b1;
                    s0_valid  = 1'b1;
                    s0_kind   = EV_CHECK;
                    s0_vec    = scan_vec_q;
                end
            end
        end
    end

    assign req_ready = !init_q && !check_q && !note_q;
    assign irq_ready = take_irq;
    assign irq_bad_vector = irq_valid && take_irq && !irq_in_range;

    assign tbl_rd_en   = s0_valid;
    assign tbl_rd_addr = s0_vec;
    assign pba_rd_en   = s0_valid;
    assign pba_rd_addr = PW'(s0_vec >> 6);

    // ---------------------------------------------------------------- table writes (MMIO and init)
    wire mmio_tbl_write = take_mmio_write && req_in_table;
    // Address bits [1:0] and VectorCtrl bits [31:1] are not implemented (the spec makes the former zero
    // for DWORD alignment and the latter RsvdP / unsupported TPH steering tags): they read back 0.
    logic [31:0] req_wdata_legal;
    always_comb begin
        req_wdata_legal = req_wdata;
        if (req_dw == 2'd0) req_wdata_legal[1:0]  = 2'b00;
        if (req_dw == 2'd3) req_wdata_legal[31:1] = '0;
    end

    always_comb begin
        tbl_wr_en   = '0;
        tbl_wr_addr = VW'(req_entry);
        tbl_wr_data = {4{req_wdata_legal}};
        if (init_q) begin
            tbl_wr_en   = '1;
            tbl_wr_addr = init_idx_q;
            tbl_wr_data = '0;
            tbl_wr_data[CTRL_MASK_BIT] = 1'b1;
        end else if (mmio_tbl_write) begin
            tbl_wr_en[req_dw*4 +: 4] = req_be;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            check_q     <= 1'b0;
            check_vec_q <= '0;
            note_q      <= 1'b0;
            note_vec_q  <= '0;
            note_dw_q   <= '0;
            wr_rsp_q    <= 1'b0;
        end else begin
            wr_rsp_q <= take_mmio_write;
            if (s0_valid && s0_kind == EV_CHECK && check_q) begin
                check_q <= 1'b0;
            end else if (mmio_tbl_write && req_dw == 2'd3 && req_be[0] && !req_wdata[0]) begin
                check_q     <= 1'b1;
                check_vec_q <= VW'(req_entry);
            end
            if (s0_valid && s0_kind == EV_NOTE) begin
                note_q <= 1'b0;
            end else if (mmio_tbl_write && req_dw != 2'd3) begin
                note_q     <= 1'b1;
                note_vec_q <= VW'(req_entry);
                note_dw_q  <= req_dw;
            end
        end
    end

    // ---------------------------------------------------------------- S1
    logic          fwd_valid_q;
    logic [PW-1:0] fwd_word_q;
    logic [63:0]   fwd_data_q;

    wire [PW-1:0] s1_word   = PW'(s1_vec_q >> 6);
    wire [5:0]    s1_bit    = 6'(s1_vec_q);
    wire [63:0]   pba_cur   = (fwd_valid_q && fwd_word_q == s1_word) ? fwd_data_q : pba_rd_data;
    wire          s1_masked = tbl_rd_data[CTRL_MASK_BIT] || blocked;
    wire          s1_pend   = pba_cur[s1_bit];

    logic        s1_send;
    logic        s1_pba_we;
    logic [63:0] s1_pba_new;

    always_comb begin
        s1_send    = 1'b0;
        s1_pba_we  = 1'b0;
        s1_pba_new = pba_cur;
        if (s1_valid_q) begin
            case (s1_kind_q)
                EV_FIRE: begin
                    if (s1_masked) begin
                        s1_pba_we  = !s1_pend;
                        s1_pba_new = pba_cur | (64'd1 << s1_bit);
                    end else begin
                        s1_send = 1'b1;
                    end
                end
                EV_CHECK: begin
                    if (s1_pend && !s1_masked) begin
                        s1_send    = 1'b1;
                        s1_pba_we  = 1'b1;
                        s1_pba_new = pba_cur & ~(64'd1 << s1_bit);
                    end
                end
                default: ;
            endcase
        end
    end

    always_comb begin
        pba_wr_en   = s1_pba_we;
        pba_wr_addr = s1_word;
        pba_wr_data = s1_pba_new;
        if (init_q) begin
            pba_wr_en   = 32'(init_idx_q) < PBA_WORDS;
            pba_wr_addr = PW'(init_idx_q);
            pba_wr_data = '0;
        end
    end

    // Armed pair writes: the commit points of the header. A commit CHECK arms (and sends, if Pending) the pair
    // it has just read from the table; a NOTE arms it when the vector cannot send now.
    // The armed RAM reads old data during a write, so the write is forwarded to the event behind it.
    wire [95:0] tbl_pair = {tbl_rd_data[95:64], tbl_rd_data[63:32], tbl_rd_data[31:2], 2'b00};
    wire        s1_note  = s1_valid_q && s1_kind_q == EV_NOTE;
    wire        s1_arm   = (s1_valid_q && s1_kind_q == EV_CHECK && s1_commit_q)
                        || (s1_note && s1_masked);
    logic          afwd_valid_q;
    logic [VW-1:0] afwd_vec_q;
    logic [95:0]   afwd_data_q;
    wire  [95:0]   arm_cur  = (afwd_valid_q && afwd_vec_q == s1_vec_q) ? afwd_data_q : arm_rd_data;
    wire  [95:0]   msg_pair = (s1_kind_q == EV_CHECK && s1_commit_q) ? tbl_pair : arm_cur;

    assign unmasked_write     = s1_note && !s1_masked;
    assign unmasked_write_vec = s1_vec_q;
    assign unmasked_write_dw  = s1_dw_q;

    always_comb begin
        arm_wr_en   = s1_arm;
        arm_wr_addr = s1_vec_q;
        arm_wr_data = tbl_pair;
        if (init_q) begin
            arm_wr_en   = 1'b1;
            arm_wr_addr = init_idx_q;
            arm_wr_data = '0;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            afwd_valid_q <= 1'b0;
            afwd_vec_q   <= '0;
            afwd_data_q  <= '0;
        end else begin
            afwd_valid_q <= s1_arm;
            afwd_vec_q   <= s1_vec_q;
            afwd_data_q  <= tbl_pair;
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            s1_valid_q    <= 1'b0;
            s1_kind_q     <= EV_FIRE;
            s1_vec_q      <= '0;
            s1_dw_q       <= '0;
            s1_blank_q    <= 1'b0;
            s1_commit_q   <= 1'b0;
            fwd_valid_q   <= 1'b0;
            fwd_word_q    <= '0;
            fwd_data_q    <= '0;
            pba_nonzero_q <= '0;
        end else begin
            s1_valid_q <= s0_valid;
            s1_kind_q  <= s0_kind;
            s1_vec_q   <= s0_vec;
            s1_dw_q    <= s0_dw;
            s1_blank_q <= s0_blank;
            s1_commit_q <= s0_commit;
            fwd_valid_q <= s1_pba_we;
            fwd_word_q  <= s1_word;
            fwd_data_q  <= s1_pba_new;
            if (s1_pba_we) pba_nonzero_q[s1_word] <= |s1_pba_new;
        end
    end

    // MMIO responses: writes one cycle after they land, reads from S1.
    always_comb begin
        rsp_valid = wr_rsp_q;
        rsp_rdata = '0;
        if (s1_valid_q && (s1_kind_q == EV_TREAD || s1_kind_q == EV_PREAD)) begin
            rsp_valid = 1'b1;
            if (!s1_blank_q) begin
                rsp_rdata = (s1_kind_q == EV_TREAD) ? tbl_rd_data[s1_dw_q*32 +: 32]
                                                    : (s1_dw_q[0] ? pba_cur[63:32] : pba_cur[31:0]);
            end
        end
    end

    // ---------------------------------------------------------------- replay scanner
    logic blocked_q;
    always_ff @(posedge clk) begin
        if (rst) begin
            blocked_q  <= 1'b1;
            scan_q     <= 1'b0;
            scan_vec_q <= '0;
        end else begin
            blocked_q <= blocked;
            if (blocked_q && !blocked) begin
                scan_q     <= 1'b1;      // (re)start from vector 0
                scan_vec_q <= '0;
            end else if (scan_q && blocked) begin
                scan_q <= 1'b0;          // blocked again: the next unblock restarts the scan
            end else if (scan_q && !init_q) begin
                if (!scan_word_nonzero) begin
                    if (32'(scan_word) == PBA_WORDS - 1) scan_q <= 1'b0;
                    scan_vec_q <= VW'({scan_word + 1'b1, 6'd0});
                end else if (take_scan) begin
                    if (32'(scan_vec_q) == VECTORS - 1) scan_q <= 1'b0;
                    scan_vec_q <= scan_vec_q + 1'b1;
                end
            end
        end
    end

    // ---------------------------------------------------------------- message FIFO
    logic msg_fifo_ready;
    imsdev_fifo #(.WIDTH(96), .DEPTH(FIFO_DEPTH)) u_msg_fifo (
        .clk, .rst,
        .in_valid(s1_send), .in_ready(msg_fifo_ready),
        .in_data(msg_pair),
        .out_valid(msg_valid), .out_ready(msg_ready), .out_data({msg_data, msg_addr}),
        .count(fifo_count)
    );

    // send_credit guarantees room; a push into a full FIFO would lose an interrupt.
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic checks_on_q;
    initial checks_on_q = 1'b0;
    always_ff @(posedge clk) if (rst) checks_on_q <= 1'b1;

    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && s1_send && !msg_fifo_ready) $error("imsdev_msix: message FIFO overflow");
    end
    // ---------------------------------------------------------------- idle (imsdev_top dev_idle)
    assign idle      = !check_q && !note_q && !(scan_q && !init_q) && !s1_valid_q && !msg_valid;
endmodule

`default_nettype wire
