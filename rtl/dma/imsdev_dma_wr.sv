// Write engine of the DMA engine: turns every command into MWr TLPs and exactly one response.
//
// Commands are taken in order. Writes are cut at multiples of WR_SIZE = min(Max_Payload_Size, WR_CAP) of
// the destination address, so none exceeds MPS or crosses a 4 KiB boundary. WR_CAP (half the read buffer,
// at most 4 KiB) guarantees that a whole TLP's source data always fits in the buffer.
// Payload: COPY reads the read buffer at the position of the TLP's first payload byte (write positions
// advance with the destination offset, so a single rotation aligns any source to any destination); FILL
// repeats the 8-byte pattern rotated to the TLP's start; WRITE shifts cmd data into place.
// A COPY TLP starts only when all its bytes are in the buffer, so a TLP never stalls half-way and a failed
// command stops at a TLP boundary: rsp_bytes is then the sum of the TLPs sent.
//
// Pipeline, one beat per cycle:
//   I  plan the TLP / beat, issue the buffer read (COPY), compute local payload (FILL, WRITE)
//   D  take the buffer data, push the beat into the output FIFO
// The output FIFO carries beats and, in order with them, the responses: on the last beat of a command, or
// as a separate marker entry for commands that end without a final beat (zero length, invalid, failed).
// The owner of the FIFO's output releases a response only when its entry leaves the FIFO, i.e. after
// every write beat before it was accepted on tx_req.
// ATS (docs/ats_pri.md 2.2): a command with a PASID, not ATS-disabled and not a FETCH, while ats_on, has each
// TLP's page looked up in the ATC when the TLP is planned (stage I); a hit with W gives the header the
// translated address and AT = 10b (fixed from then on: xl_planned counts such TLPs for the invalidation's write
// snapshot); otherwise the TLP waits and asks the translation requester. A DENIED or FAILED answer fails the
// command (xf_*: DMA_XL_WRITE_FAULT / DMA_XL_FAIL_WR), which then ends like a failed COPY at the TLP boundary
// (for FILL and WRITE too, through the same marker path).
// Exact bytes on a source translation fault (docs/ats_pri.md 2.6): the read side stops at the faulting page,
// having requested every byte before it, and pushes the command's end position. Once it is there, the write
// side clamps the command to the bytes in the buffer (xl_clamp: length and remaining length cut), writes them
// all, the last TLP shortened, and answers DMA_XL_READ_FAULT / DMA_XL_FAIL_RD with rsp_bytes = the fault's
// offset from the source (or the destination fault's, if that comes first). Nothing to write: the abort path.
// Block-on-Fault (docs/ats_pri.md 2.6): a DENIED page of a command with cmd_bof (completion records included)
// asks imsdev_pri for the page (pr_req, held until pr_done); the engine stalls at that TLP meanwhile. Success:
// translated again, at most PRI_RETRIES page requests per page, then as without BOF; Invalid Request:
// DMA_XL_WRITE_FAULT_IR; Response Failure, PRI reset or PRI unusable: DMA_XL_WRITE_FAULT.
`default_nettype none

module imsdev_dma_wr #(
    parameter int DATA_W    = 256,
    parameter int BUF_BYTES = 4096,
    parameter int SEQ_W     = 4,
    parameter int OUT_DEPTH = 4,
    localparam int NB       = DATA_W / 8,
    localparam int LNB      = $clog2(NB),
    localparam int AW       = $clog2(BUF_BYTES),
    localparam int PW       = AW + 1,
    localparam int WR_CAP   = (BUF_BYTES / 2 < 4096) ? BUF_BYTES / 2 : 4096,
    localparam int WR_CAP_LG = $clog2(WR_CAP),
    // output FIFO entry: {marker, fetch, sop, eop, hdr, prfx_valid, prfx, data, rsp_valid, rsp_id, rsp_status,
    // rsp_bytes}
    localparam int OUT_W    = 4 + 128 + 1 + 32 + DATA_W + 1 + 8 + 4 + 32
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,
    input  wire logic [2:0]        cfg_max_payload,

    // command at the head of the command FIFO
    input  wire logic              cmd_valid,
    output      logic              cmd_pop,
    input  wire logic [2:0]        cmd_op,
    input  wire logic              cmd_invalid,
    input  wire logic [63:0]       cmd_dst,
    input  wire logic [31:0]       cmd_len,
    input  wire logic [255:0]      cmd_data,       // FILL: pattern in [63:0]; WRITE: bytes to write
    input  wire logic              cmd_pasid_valid,
    input  wire logic [19:0]       cmd_pasid,
    input  wire logic              cmd_priv,
    input  wire logic [7:0]        cmd_id,
    input  wire logic [SEQ_W-1:0]  cmd_seq,
    input  wire logic              cmd_no_ats,
    input  wire logic              cmd_bof,
    // the engine takes its next command at this edge (its sequence number becomes fail_q_seq): for
    // imsdev_dma_tags' registered lookup (q_wr_load / q_wr_load_seq)
    output      logic              cur_load,
    output      logic [SEQ_W-1:0]  cur_load_seq,

    // ATS (tied off when the build has no ATC)
    input  wire logic              ats_on,
    output      logic [19:0]       lk_pasid,
    output      logic              lk_priv,
    output      logic [51:0]       lk_page,
    input  wire logic              lk_hit,
    input  wire logic              lk_w,
    input  wire logic [51:0]       lk_pa,
    input  wire logic              lk_stale,
    output      logic              xl_req,
    input  wire logic              xl_done,
    input  wire logic [1:0]        xl_res,
    input  wire logic [19:0]       xl_pasid,
    input  wire logic              xl_priv,
    input  wire logic [51:0]       xl_page,
    output      logic              xf_valid,
    output      logic [3:0]        xf_code,
    output      logic [15:0]       xl_planned,
    output      logic              pr_req,         // page request wanted for lk_page (imsdev_pri, slot 1)
    input  wire logic              pr_done,
    input  wire logic [1:0]        pr_res,

    // read side
    input  wire logic [PW-1:0]     avail_pos,
    input  wire logic [PW-1:0]     avail_base,     // avail_pos after this edge is avail_base + avail_add
    input  wire logic [PW-1:0]     avail_add,
    output      logic [PW-1:0]     free_pos,
    output      logic [SEQ_W-1:0]  fail_q_seq,
    input  wire logic              fail_q_failed,  // registered in imsdev_dma_tags (follows cmd_pop / cmd_seq)
    input  wire logic              fail_q_rdx,     // with fail_q_failed: fail_q_code is a read-side translation fault
    input  wire logic [3:0]        fail_q_code,
    input  wire logic              fail_q_busy,
    input  wire logic              end_valid,
    output      logic              end_pop,
    input  wire logic [PW-1:0]     end_pos,

    output      logic              buf_rd_en,
    output      logic [AW-1:0]     buf_rd_pos,
    input  wire logic [DATA_W-1:0] buf_rd_data,

    // output: write beats and responses
    output      logic              out_valid,
    input  wire logic              out_ready,
    output      logic              out_marker,
    output      logic              out_fetch,      // a FETCH's beat (or marker): for the caller, not tx_req
    output      logic              out_sop,
    output      logic              out_eop,
    output      logic [127:0]      out_hdr,
    output      logic              out_prfx_valid,
    output      logic [31:0]       out_prfx,
    output      logic [DATA_W-1:0] out_data,
    output      logic              out_rsp_valid,
    output      logic [7:0]        out_rsp_id,
    output      logic [3:0]        out_rsp_status,
    output      logic [31:0]       out_rsp_bytes
);
    import imsdev_tlp_pkg::*;
    import imsdev_dma_pkg::*;

    initial begin
        if (OUT_DEPTH < 4) $fatal(1, "imsdev_dma_wr: OUT_DEPTH (%0d) must be at least 4 for full rate", OUT_DEPTH);
        if (NB < 8) $fatal(1, "imsdev_dma_wr: DATA_W (%0d) must be at least 64", DATA_W);
        if ((OUT_DEPTH & (OUT_DEPTH - 1)) != 0)
            $fatal(1, "imsdev_dma_wr: OUT_DEPTH (%0d) must be a power of two (credit is the occupancy's top bit)", OUT_DEPTH);
    end

    // ---------------------------------------------------------------- current command
    // The head of the command FIFO is copied into registers (nxt_*, below) and popped as soon as that slot is
    // free; the next command is taken from there (into cur_*) in the cycle the current one ends, so commands
    // still follow back to back, and every TLP decision below starts at a flip-flop. Both the command and its
    // derived values (WR_SIZE, the first to-boundary distance, rem_small / n_is_rem / tlp_last / c4k, the
    // stepped address and length) come from flip-flops at that load (Fmax: the load decision, the end of the
    // command-end path, selected the FIFO's LUT-RAM read and the compares behind it, yosys sharing the compares
    // of the load and the per-TLP updates behind one mux: the round-9 worst cones rem -> cmd_end -> u_wcmd read
    // -> tlp_last / rem_small / key_chg_q, and the tags' q_wr_failed / busy behind the FIFO's sequence number).
    // Latency (deliberate, round 9): a command reaching an idle engine starts two cycles after it reaches the
    // FIFO head (FIFO -> nxt -> cur) instead of one; a command reaching the FIFO head in the very cycle the
    // engine's current command ends starts one cycle after that end. A command queued behind a running one
    // is in nxt_* by then (checked below), so back-to-back commands keep one command per cycle.
    // The destination address and the remaining length are kept as running registers (advanced when a
    // TLP starts) in place of dst + done and len - done. A TLP never crosses a 4 KiB boundary, so the
    // address's bits 63:12 only step by one (to a_hi_inc_q) and the length's bits 31:13 only by minus one
    // (to r_hi_dec_q): the wide carry chains are off the per-TLP loop.
    logic           cur_valid_q, cur_nothing_q, cur_invalid_q;
    logic [2:0]     cur_op_q;
    logic [31:0]    cur_len_q;
    logic [255:0]   cur_data_q;
    logic           cur_pasid_valid_q;
    logic [31:0]    cur_prfx_q;
    logic [7:0]     cur_id_q;
    logic [SEQ_W-1:0] cur_seq_q;
    logic [51:0]    a_hi_q, a_hi_inc_q;        // destination of the next TLP, bits 63:12 (and that + 1)
    logic [11:0]    a_lo_q;                    // ... bits 11:0
    logic [18:0]    r_hi_q, r_hi_dec_q;        // bytes not yet in a started TLP, bits 31:13 (and that - 1)
    logic [12:0]    r_lo_q;                    // ... bits 12:0
    logic [7:0]     done_lo_q;                 // bytes in started TLPs, bits 7:0 (FILL / WRITE phase)
    logic [12:0]    wr_size_q;                 // WR_SIZE of the command
    logic [12:0]    tb_q;                      // bytes from the next TLP's address to a WR_SIZE boundary
    logic [PW-1:0]  plan_q;                    // buffer position of the next TLP's first source byte
    logic [PW-1:0]  free_q;                    // buffer released to the read side (ends of finished TLPs)

    logic           t_busy_q;                  // inside a multi-beat TLP (its first beat was issued)
    logic           t_eop_q;                   // the next beat of that TLP is its last
    logic [10:0]    t_beat_q, t_nbeats_q;
    logic [127:0]   t_hdr_q;
    logic [PW-1:0]  t_rd_q;                    // buffer position of the next beat's first byte
    logic [PW-1:0]  t_free_end_q;              // plan_q after the last TLP started: released at its end
    logic [2:0]     t_fill_r_q;
    logic [7:0]     t_wsh_q;
    logic [15:0]    t_sh_q;                    // the next beat's local-payload shift: t_wsh_q + t_beat_q * NB
    logic           t_last_q;                  // the TLP ends its command
    logic           rel_q;                     // a TLP ended last cycle: release its buffer bytes

    // ---------------------------------------------------------------- new TLP plan
    // WR_SIZE is taken with the command (Max_Payload_Size when the command is taken; software changes
    // MPS only with no traffic), and so is the distance to the first WR_SIZE boundary: every later TLP of
    // the command starts on a boundary (tb_q = WR_SIZE), so the TLP size starts from flip-flops.
    logic [2:0]  mps_lg;
    always_comb begin
        mps_lg = (cfg_max_payload > 3'd5) ? 3'd5 : cfg_max_payload;
        if (32'(mps_lg) + 7 > WR_CAP_LG) mps_lg = 3'(WR_CAP_LG - 7);
    end
    wire [12:0]  cfg_wr_size = 13'd128 << mps_lg;
    wire [12:0]  cmd_to_bound = cfg_wr_size - 13'(cmd_dst[11:0] & 12'(cfg_wr_size - 13'd1));

    // The next command (the FIFO head copied ahead) with the values the load gives the running registers.
    logic           nxt_valid_q, nxt_nothing_q, nxt_invalid_q;
    logic [2:0]     nxt_op_q;
    logic [31:0]    nxt_len_q;
    logic [255:0]   nxt_data_q;
    logic           nxt_pasid_valid_q;
    logic [31:0]    nxt_prfx_q;
    logic [7:0]     nxt_id_q;
    logic [SEQ_W-1:0] nxt_seq_q;
    logic           nxt_ats_q, nxt_bof_q;
    logic [51:0]    nxt_a_hi_q, nxt_a_hi_inc_q;
    logic [11:0]    nxt_a_lo_q;
    logic [18:0]    nxt_r_hi_q, nxt_r_hi_dec_q;
    logic [12:0]    nxt_r_lo_q;
    logic [12:0]    nxt_wr_size_q, nxt_tb_q;
    logic           nxt_rem_small_q, nxt_n_is_rem_q, nxt_tlp_last_q, nxt_c4k_q, nxt_one_beat_q;

    wire [63:0]  addr      = {a_hi_q, a_lo_q};
    wire [31:0]  rem       = {r_hi_q, r_lo_q};
    // rem_small, n_is_rem, tlp_last and the 4 KiB carry of a TLP from flip-flops (Fmax: their compares are off
    // the start / command-end path), each loaded with its next value wherever r_*, tb_q and a_lo_q change
    // (see the state update; a simulation check compares them with their definitions every cycle):
    //   rem_small_q = r_hi_q == 0 (rem < 8 KiB: r_lo_q is all of it); n_is_rem_q = rem_small && r_lo_q < tb_q;
    //   tlp_last_q = rem_small && r_lo_q <= tb_q; c4k_q = a_lo_q + tb_q reaches 4 KiB (a to_bound TLP ends
    //   on a 4 KiB boundary; a shorter one, n_is_rem, never does: a_lo_q + tb_q <= 4096).
    logic        rem_small_q, n_is_rem_q, tlp_last_q, c4k_q;
    logic        one_beat_q;     // the next TLP is one beat (one_beat_def below), loaded like the four above
    wire         rem_small = rem_small_q;
    wire [12:0]  to_bound  = tb_q;                           // bytes to the next WR_SIZE boundary
    wire         n_is_rem  = n_is_rem_q;
    wire [12:0]  n         = n_is_rem ? r_lo_q : to_bound;
    wire [13:0]  end_off   = 14'(addr[1:0]) + 14'(n);           // one past the last byte, from the first DW
    wire [9:0]   dwc       = 10'((end_off + 14'd3) >> 2);  // 1..1024 DW (1024 is 0, as in the header's Length)
    wire [10:0]  nbeats    = 11'((end_off + 14'(NB - 1)) >> LNB);
    // ATS: translation of the TLP's page
    logic        cur_ats_q;
    wire         xl_on     = cur_ats_q && ats_on;
    wire         xl_hit    = lk_hit && lk_w;
    assign lk_pasid = cur_prfx_q[19:0];
    assign lk_priv  = cur_prfx_q[23];
    assign lk_page  = addr[63:12];
    // A TLP starts from last cycle's lookup (registered: the ATC's compare is off the start path), valid when
    // neither the key (the page, the PASID: key_chg_q) nor the ATC (lk_stale) changed at the last edge; else
    // the TLP waits a cycle. The translation request and the acceptance of its answer use the registered
    // lookup too (xl_lk_ok: valid, xl_hit_q: its result), so this cycle's ATC compare is off the fault path
    // (answer -> xf_valid / bof_go -> the failure table, the page request, the running registers' enables:
    // the deepest cones of the small configuration, sim/synth_depth.py). Timing changes against this cycle's
    // lookup: (1) a miss asks one cycle later after a key or ATC change (xl_req waits for a valid lookup);
    // (2) an answer is taken while the side waits for it: with a valid lookup, a miss now (as before); in the
    // cycle after an ATC change, a request made in the cycle before (xl_req_q), i.e. also when that change
    // (an insert for another side) made this key hit; in the cycle after a key change, not at all (the
    // answer is for the old key; only a new command on the same page would have matched, and it asks again).
    logic         xl_hit_q, key_chg_q, xl_req_q;
    logic [51:0]  lk_pa_q;
    wire          xl_lk_ok = !key_chg_q && !lk_stale;
    wire          xl_hit_r = xl_hit_q && xl_lk_ok;
    logic [127:0] hdr;
    always_comb begin
        hdr = mwr_hdr(xl_on ? {lk_pa_q, addr[11:0]} : addr, dwc, cfg_bdf, 8'd0, req_first_be(addr[1:0], n),
                      req_last_be(addr[1:0], n));
        if (xl_on) hdr[107:106] = 2'b10;                  // AT: Translated
    end
    wire [PW-1:0] q        = plan_q - PW'(addr[1:0]);
    // (payload byte 0 address) - dst = done - addr[1:0]
    wire [2:0]   fill_r    = done_lo_q[2:0] - 3'(addr[1:0]);
    wire [7:0]   wsh       = done_lo_q + 8'd3 - 8'(addr[1:0]);
    wire         tlp_last  = tlp_last_q;
    // A one-beat TLP, decided from rem and to_bound side by side rather than after n and nbeats; taken from
    // a flip-flop loaded with its next value (Fmax, round 15: the sums and compares from the TLP's address
    // headed the command end -> load path into the enables of the running registers, the whole design's worst
    // path with seed 1). After a TLP that leaves the command going, the next one starts on a WR_SIZE boundary
    // (address bits 1:0 zero); the check below compares the flip-flop with this definition wherever it is used.
    wire         one_beat_def = (rem_small && 14'(addr[1:0]) + 14'(r_lo_q) <= 14'(NB))
                                || 14'(addr[1:0]) + 14'(to_bound) <= 14'(NB);
    wire         one_beat  = one_beat_q;
    // A two-beat TLP (nbeats == 2: NB < addr[1:0] + n <= 2 NB), for t_eop_q at a TLP's first beat, likewise
    // from both candidates of n side by side: the compare of n's select (r_lo_q < to_bound) runs beside the
    // sums instead of in front of n, end_off and nbeats.
    wire [13:0]  eo_rem    = 14'(addr[1:0]) + 14'(r_lo_q);
    wire [13:0]  eo_tb     = 14'(addr[1:0]) + 14'(to_bound);
    wire         two_beats = n_is_rem ? (eo_rem > 14'(NB) && eo_rem <= 14'(2 * NB))
                                      : (eo_tb > 14'(NB) && eo_tb <= 14'(2 * NB));
    wire [31:0]  done      = cur_len_q - rem;

    // A FETCH is a COPY whose "TLP" (planned at destination 0: one 64-byte piece) goes to the caller.
    wire is_fetch  = cur_op_q == DMA_OP_FETCH;
    wire is_copy   = cur_op_q == DMA_OP_COPY || is_fetch;
    wire [PW-1:0] have = avail_pos - plan_q;
    // have >= n, with both candidates of n compared in parallel, each as one carry chain (Fmax: was have's
    // subtraction, then the compare): (next) avail_pos - plan_q - n as a carry-save sum (two LUT levels,
    // imsdev_dma_fits4) and one adder, its sign bit. Exact while -2^(PW-1) <= have - n < 2^(PW-1): have is at most BUF_BYTES = 2^(PW-1)
    // (the buffer) and n, when it is used, 1 .. WR_CAP <= BUF_BYTES / 2 (checked below against the compare).
    logic fits_rem, fits_tb;
    imsdev_dma_fits4 #(.W(PW)) u_fits_rem (.a(avail_base), .d(avail_add), .b(plan_q), .c(PW'(r_lo_q)),   .fits(fits_rem));
    imsdev_dma_fits4 #(.W(PW)) u_fits_tb  (.a(avail_base), .d(avail_add), .b(plan_q), .c(PW'(to_bound)), .fits(fits_tb));
    // (all against avail_base + avail_add, the position avail_pos takes at this edge, added inside each
    // check's carry-save sum: data_q is then exact from the cycle the bytes arrive, as the combinational
    // check was)
    wire data_nx   = n_is_rem ? fits_rem : fits_tb;
    // The check the start uses is a flip-flop, data_q, loaded at each edge with the check for the TLP after
    // it (Fmax, round 16: the check's carry chain headed the whole design's worst path with seed 1 after the
    // round's first changes, buffer check -> start -> command end -> load -> the running registers). Its next
    // value from flip-flops, selected by start, load, abort and clamp last:
    //   none of them: this TLP's check (data_nx);
    //   a load alone: the next command's first TLP (n_nxt) against the same plan;
    //   a COPY's start with a load: that TLP behind this one (n + n_nxt);
    //   a COPY's start alone: this TLP plus a whole WR_SIZE (n + wr_size_q), in place of the next TLP's size;
    //   (a FILL's or WRITE's start takes no buffer bytes: as if there were none)
    //   an abort or a clamp (plan_q or the remaining length jumps): no (one cycle's wait; both are rare).
    // So data_q never claims bytes that are not there (checked below), and after a cycle with none of the
    // four it is exactly the compare (checked): a TLP waits one cycle longer than before only right after a
    // one-beat COPY TLP whose successor's bytes are not all buffered yet, or after an abort or clamp.
    wire [12:0] n_nxt = nxt_n_is_rem_q ? nxt_r_lo_q : nxt_tb_q;
    logic fits_ld, fits_sl, fits_st, data_q;
    imsdev_dma_fits4 #(.W(PW)) u_fits_ld (.a(avail_base), .d(avail_add), .b(plan_q), .c(PW'(n_nxt)),                .fits(fits_ld));
    imsdev_dma_fits4 #(.W(PW)) u_fits_sl (.a(avail_base), .d(avail_add), .b(plan_q), .c(PW'(n) + PW'(n_nxt)),       .fits(fits_sl));
    imsdev_dma_fits4 #(.W(PW)) u_fits_st (.a(avail_base), .d(avail_add), .b(plan_q), .c(PW'(n) + PW'(wr_size_q)),   .fits(fits_st));
    wire data_ok   = !is_copy || data_q;

    // ---------------------------------------------------------------- stage I decisions
    // Credit: room in the output FIFO for what stage D holds plus one more entry. occ_q counts the entries
    // taken and not yet popped (the FIFO's count plus d_valid_q), loaded with its next value (+1 for a beat or
    // marker, -1 for a pop), so credit is its top bit (OUT_DEPTH is a power of two and occ_q never exceeds it)
    // instead of the FIFO's pointer subtract, the add and the compare (Fmax, round 16: that count headed the
    // whole design's worst path on all three seeds of the merged rounds 14-15, count -> credit -> start /
    // command end -> load -> the running registers' enables). Checked below against the FIFO's count.
    localparam int OCW = $clog2(OUT_DEPTH + 1);
    logic [OCW-1:0] fifo_count;
    logic [OCW-1:0] occ_q;
    logic d_valid_q;
    wire  credit = !occ_q[OCW-1];

    wire nothing   = cur_valid_q && !t_busy_q && cur_nothing_q;
    // (only a COPY's reads or a translation fault fail a command; FILL and WRITE need no read-side cleanup)
    // source translation fault: clamp to the bytes read (their end position is known once end_valid)
    logic        clamped_q;
    logic        wf_q;                                     // this side's own translation fault: end now
    logic [3:0]  wf_code_q;
    // (decided in imsdev_dma_tags a cycle early: the code's compare is off the start / command-end path)
    wire         xl_rd_code = fail_q_rdx;
    // Block-on-Fault: waiting for the page request's outcome (pw_q), page requests made for this page
    logic        cur_bof_q, pw_q;
    logic [2:0]  rounds_q;
    wire [PW-1:0] left_buf  = end_pos - plan_q;           // bytes of the command still in the buffer
    wire [31:0]  left32    = 32'(left_buf);
    // (left_buf != 0 tested as an inequality of the two positions: no subtraction on the start path)
    // Whether bytes are left (end_pos != plan_q) is last cycle's compare, ne_q (Fmax, round 16: the compare
    // headed the abort -> marker -> command end -> load path into the running registers, the whole design's
    // worst path with seed 3 after the credit change). It is stale after an edge that moved either side:
    // a TLP start or an abort (plan_q), a pop of the end FIFO, or an end FIFO that was empty (its head may
    // have just landed). In a stale cycle the clamp-or-abort choice waits (neither happens, and no TLP starts:
    // start's guard below needs no compare), so a source translation fault ends its command at most a
    // cycle later; the outcome is the same. Checked below.
    logic        ne_q, ne_stale_q;
    wire         clamp_case = cur_valid_q && !t_busy_q && !cur_nothing_q && is_copy && fail_q_failed && xl_rd_code
                              && end_valid && !clamped_q && !wf_q && !pw_q;
    wire         xl_clamp  = clamp_case && !ne_stale_q && ne_q;
    wire abort     = cur_valid_q && !t_busy_q && !cur_nothing_q && !pw_q
                     && ((fail_q_failed && !clamped_q && !(clamp_case && (ne_stale_q || ne_q))) || wf_q);
    // abort, clamp or the wait between them, as start's guard: at a TLP boundary of a running command, "failed
    // and not clamped, or a write fault" (checked below)
    wire abort_or_clamp = cur_valid_q && !t_busy_q && !cur_nothing_q && !pw_q
                          && ((fail_q_failed && !clamped_q) || wf_q);
    wire abort_ready = abort && (!is_copy || (end_valid && !fail_q_busy)) && credit;
    // The abort is taken in the cycle after its decision: abort_go is a flip-flop set by abort_ready (Fmax,
    // round 17: the decision, a wide AND-OR of the failure lookup, the clamp compare, the end FIFO, the tags'
    // busy flag and credit, headed the abort -> marker -> command end -> load path into the running
    // registers' enables, the whole design's worst path with seed 1 after the tags' registered tail flag).
    // Exact but one cycle later, and only for a failed command: once abort_ready holds, nothing else
    // happens on this side until the abort (abort implies start's guard, so no TLP starts, no marker, no
    // load and no end pop; a clamp is excluded by abort), and every term only stays: the failure and the
    // write fault are sticky for the command, the end FIFO pops only here, credit only grows while nothing
    // is pushed, and with the end position known the read side allocates no tag of the command, so the
    // tags' busy flag only falls. So abort_ready still holds when abort_go is set (checked below); abort_go
    // is not set again in its own cycle (the next command is loaded then).
    logic abort_q;
    wire  abort_go = abort_q;
    // (data_ok is a flip-flop, data_q above, so start, the command end and the load need no side-by-side forms)
    wire start     = cur_valid_q && !t_busy_q && !cur_nothing_q && !abort_or_clamp && credit
                     && (!tlp_last || !is_copy || end_valid) && (!xl_on || xl_hit_r) && !pw_q && data_ok;
    // The answer's key compare is last cycle's (key_eq_q): the 73-bit compare is off the answer -> fault path.
    // Exact wherever xl_mine is used (under xl_wait, so !key_chg_q: this side's key did not change at the last
    // edge) and can be 1 (xl_done: the requester's slot is out, so its key did not change either: it changes
    // only when the slot takes a request, into a pending state without an answer). Checked below.
    wire  key_eq  = xl_pasid == lk_pasid && xl_priv == lk_priv && xl_page == lk_page;
    logic key_eq_q;
    wire  xl_mine = xl_done && key_eq_q;
    // (a clamped command still writes its bytes, so it may still need translations)
    wire   xl_need  = cur_valid_q && !t_busy_q && !cur_nothing_q && !wf_q && (!fail_q_failed || clamped_q)
                      && xl_on && !pw_q;
    assign xl_req   = xl_need && xl_lk_ok && !xl_hit_q;
    wire   xl_wait  = xl_need && !key_chg_q && (lk_stale ? xl_req_q : !xl_hit_q);
    wire   xl_denied = xl_wait && xl_mine && xl_res == 2'd1;
    wire   bof_go    = xl_denied && cur_bof_q && 32'(rounds_q) < PRI_RETRIES;
    wire   pr_end    = pw_q && pr_done;
    assign pr_req   = pw_q;
    assign xf_valid = (xl_wait && xl_mine && xl_res != 2'd0 && !bof_go) || (pr_end && pr_res != imsdev_ats_pkg::PR_SUCCESS);
    assign xf_code  = pr_end ? ((pr_res == imsdev_ats_pkg::PR_INVALID) ? DMA_XL_WRITE_FAULT_IR : DMA_XL_WRITE_FAULT)
                    : (xl_res == 2'd1) ? DMA_XL_WRITE_FAULT : DMA_XL_FAIL_WR;
    wire beat      = (t_busy_q && credit) || start;
    wire marker    = (nothing && credit) || abort_go;

    // Current TLP context: the registered one inside a TLP, the new plan at its first beat.
    wire [10:0]   c_beat   = t_busy_q ? t_beat_q   : 11'd0;
    wire [127:0]  c_hdr    = t_busy_q ? t_hdr_q    : hdr;
    wire [PW-1:0] c_rd     = t_busy_q ? t_rd_q     : q;
    wire [2:0]    c_fill_r = t_busy_q ? t_fill_r_q : fill_r;
    // The local payload's byte shift, t_wsh_q + t_beat_q * NB inside a TLP (kept per beat in t_sh_q, so the
    // 16-bit add of the beat offset is off the path from the TLP's address through wsh and the byte shifter
    // into d_local_q: Fmax), wsh at a first beat (c_beat = 0).
    wire [15:0]   c_sh     = t_busy_q ? t_sh_q     : 16'(wsh);
    wire          c_last   = t_busy_q ? t_last_q   : tlp_last;
    wire          c_eop    = t_busy_q ? t_eop_q    : one_beat;
    wire          tlp_end  = beat && c_eop;
    wire          cmd_end  = (tlp_end && c_last) || marker;

    // Take the next command when there is none or the current one ends this cycle; refill its slot from the
    // FIFO head when it is empty or taken.
    wire          load     = nxt_valid_q && (!cur_valid_q || cmd_end);
    wire          fill     = cmd_valid && (!nxt_valid_q || load);

    assign cmd_pop      = fill;
    assign cur_load     = load;
    assign cur_load_seq = nxt_seq_q;
    assign end_pop    = (tlp_end && c_last && is_copy) || (abort_go && is_copy);
    assign fail_q_seq = cur_seq_q;
    assign free_pos   = free_q;

    // The buffer is read every cycle: its data is used only the cycle after a COPY beat (d_use_buf_q),
    // and an enable from the beat decision would put the whole plan on the RAMs' clock-enable path.
    assign buf_rd_en  = 1'b1;
    assign buf_rd_pos = AW'(c_rd);

    // Local payload of the beat (FILL, WRITE)
    logic [DATA_W-1:0] local_data;
    always_comb begin
        logic [63:0]           pp;
        logic [DATA_W-1:0]     ext;
        pp  = 64'({cur_data_q[63:0], cur_data_q[63:0]} >> {c_fill_r, 3'b000});
        ext = DATA_W'({{(8*(NB+1)){1'b0}}, cur_data_q, 24'd0} >> {c_sh, 3'b000});
        if (cur_op_q == DMA_OP_FILL) local_data = {(NB/8){pp}};
        else                         local_data = ext;
    end

    // ---------------------------------------------------------------- stage D
    logic              d_marker_q, d_fetch_q, d_sop_q, d_eop_q, d_prfx_valid_q, d_use_buf_q, d_rsp_valid_q;
    logic [127:0]      d_hdr_q;
    logic [31:0]       d_prfx_q, d_rsp_bytes_q;
    logic [DATA_W-1:0] d_local_q;
    logic [7:0]        d_rsp_id_q;
    logic [3:0]        d_rsp_status_q;

    always_ff @(posedge clk) begin
        d_marker_q     <= marker;
        d_fetch_q      <= is_fetch;
        d_sop_q        <= !t_busy_q;
        d_eop_q        <= c_eop;
        d_hdr_q        <= c_hdr;
        d_prfx_valid_q <= cur_pasid_valid_q;
        d_prfx_q       <= cur_prfx_q;
        d_use_buf_q    <= is_copy;
        d_local_q      <= local_data;
        d_rsp_valid_q  <= cmd_end;
        d_rsp_id_q     <= cur_id_q;
        d_rsp_status_q <= cur_invalid_q ? DMA_INVALID : wf_q ? wf_code_q
                          : ((abort || clamped_q) ? fail_q_code : DMA_OK);
        d_rsp_bytes_q  <= marker ? done : cur_len_q;
        if (rst) d_valid_q <= 1'b0;
        else     d_valid_q <= beat || marker;
    end

    wire [DATA_W-1:0] d_data = d_use_buf_q ? buf_rd_data : d_local_q;

    logic [OUT_W-1:0] fifo_out;
    logic             unused_in_ready;
    // REG_OUT (Fmax): the head comes from flip-flops, so the DMA's TX arbitration and tx_req header mux start at
    // registers instead of behind this FIFO's pointer compare and LUT-RAM read (the worst path after 4e0b5b6:
    // u_out -> prefer_wr / hold_wr -> header -> egress order). Its inputs are registers and the buffer's read
    // data; same cycle-by-cycle behaviour (imsdev_fifo's check).
    imsdev_fifo #(.WIDTH(OUT_W), .DEPTH(OUT_DEPTH), .REG_OUT(1'b1)) u_out (
        .clk, .rst,
        .in_valid(d_valid_q), .in_ready(unused_in_ready),   // room is guaranteed by `credit`
        .in_data({d_marker_q, d_fetch_q, d_sop_q, d_eop_q, d_hdr_q, d_prfx_valid_q, d_prfx_q, d_data,
                  d_rsp_valid_q, d_rsp_id_q, d_rsp_status_q, d_rsp_bytes_q}),
        .out_valid, .out_ready, .out_data(fifo_out),
        .count(fifo_count)
    );
    assign {out_marker, out_fetch, out_sop, out_eop, out_hdr, out_prfx_valid, out_prfx, out_data,
            out_rsp_valid, out_rsp_id, out_rsp_status, out_rsp_bytes} = fifo_out;

    // entries taken (a beat or marker into stage D) and not yet popped from the FIFO
    wire out_pop = out_valid && out_ready;
    always_ff @(posedge clk) begin
        if (rst) occ_q <= '0;
        else     occ_q <= occ_q + OCW'(beat || marker) - OCW'(out_pop);
    end

    // ---------------------------------------------------------------- state update
    wire [12:0] a_lo_next = 13'(a_lo_q) + n;                 // bit 12: the TLP ends on a 4 KiB boundary
    wire [13:0] r_lo_next = 14'(r_lo_q) - 14'(n);            // bit 13: borrow from bits 31:13
    wire        carry     = !n_is_rem_q && c4k_q;             // = a_lo_next[12] (checked below)
    // next values of the decision flip-flops (above), per update of r_*, tb_q, a_lo_q
    wire        ld_small  = cmd_len[31:13] == '0;                            // (of the FIFO head: nxt_*)
    wire        cl_small  = left32[31:13] == '0;
    wire        st_small  = r_lo_next[13] ? r_hi_dec_q == '0 : rem_small_q;
    wire        ld_c4k    = 13'(cmd_dst[11:0]) + cmd_to_bound >= 13'd4096;     // (sums below 8 KiB)
    wire        st_c4k    = 13'(a_lo_next[11:0]) + wr_size_q >= 13'd4096;

    always_ff @(posedge clk) begin
        if (fill) begin
            nxt_op_q          <= cmd_op;
            nxt_invalid_q     <= cmd_invalid;
            nxt_nothing_q     <= cmd_invalid || cmd_len == 32'd0;
            nxt_len_q         <= cmd_len;
            nxt_data_q        <= cmd_data;
            nxt_pasid_valid_q <= cmd_pasid_valid;
            nxt_prfx_q        <= cmd_pasid_valid ? pasid_prfx(cmd_priv, 1'b0, cmd_pasid) : 32'd0;
            nxt_id_q          <= cmd_id;
            nxt_seq_q         <= cmd_seq;
            nxt_ats_q         <= cmd_pasid_valid && !cmd_no_ats && cmd_op != DMA_OP_FETCH;
            nxt_bof_q         <= cmd_bof;
            nxt_a_hi_q        <= cmd_dst[63:12];
            nxt_a_hi_inc_q    <= cmd_dst[63:12] + 52'd1;
            nxt_a_lo_q        <= cmd_dst[11:0];
            nxt_r_hi_q        <= cmd_len[31:13];
            nxt_r_hi_dec_q    <= cmd_len[31:13] - 19'd1;
            nxt_r_lo_q        <= cmd_len[12:0];
            nxt_wr_size_q     <= cfg_wr_size;
            nxt_tb_q          <= cmd_to_bound;
            nxt_rem_small_q   <= ld_small;
            nxt_n_is_rem_q    <= ld_small && cmd_len[12:0] < cmd_to_bound;
            nxt_tlp_last_q    <= ld_small && cmd_len[12:0] <= cmd_to_bound;
            nxt_c4k_q         <= ld_c4k;
            nxt_one_beat_q    <= (ld_small && 14'(cmd_dst[1:0]) + 14'(cmd_len[12:0]) <= 14'(NB))
                                 || 14'(cmd_dst[1:0]) + 14'(cmd_to_bound) <= 14'(NB);
        end
        if (load) begin
            cur_op_q          <= nxt_op_q;
            cur_invalid_q     <= nxt_invalid_q;
            cur_nothing_q     <= nxt_nothing_q;
            cur_len_q         <= nxt_len_q;
            cur_data_q        <= nxt_data_q;
            cur_pasid_valid_q <= nxt_pasid_valid_q;
            cur_prfx_q        <= nxt_prfx_q;
            cur_id_q          <= nxt_id_q;
            cur_seq_q         <= nxt_seq_q;
            cur_ats_q         <= nxt_ats_q;
            cur_bof_q         <= nxt_bof_q;
            a_hi_q            <= nxt_a_hi_q;
            a_hi_inc_q        <= nxt_a_hi_inc_q;
            a_lo_q            <= nxt_a_lo_q;
            r_hi_q            <= nxt_r_hi_q;
            r_hi_dec_q        <= nxt_r_hi_dec_q;
            r_lo_q            <= nxt_r_lo_q;
            done_lo_q         <= '0;
            wr_size_q         <= nxt_wr_size_q;
            tb_q              <= nxt_tb_q;
            rem_small_q       <= nxt_rem_small_q;
            n_is_rem_q        <= nxt_n_is_rem_q;
            tlp_last_q        <= nxt_tlp_last_q;
            c4k_q             <= nxt_c4k_q;
            one_beat_q        <= nxt_one_beat_q;
            clamped_q         <= 1'b0;
            wf_q              <= 1'b0;
        end else if (xf_valid) begin
            wf_q      <= 1'b1;
            wf_code_q <= xf_code;
        end else if (xl_clamp) begin
            // done stays (len and remaining cut alike); the command now ends after the bytes in the buffer
            cur_len_q  <= done + 32'(left_buf);
            r_hi_q     <= left32[31:13];
            r_hi_dec_q <= left32[31:13] - 19'd1;
            r_lo_q     <= left32[12:0];
            rem_small_q <= cl_small;
            n_is_rem_q  <= cl_small && left32[12:0] < tb_q;
            tlp_last_q  <= cl_small && left32[12:0] <= tb_q;
            one_beat_q  <= (cl_small && 14'(addr[1:0]) + 14'(left32[12:0]) <= 14'(NB))
                           || 14'(addr[1:0]) + 14'(tb_q) <= 14'(NB);
            clamped_q  <= 1'b1;
        end else if (start) begin
            tb_q      <= wr_size_q;
            a_lo_q    <= a_lo_next[11:0];
            rem_small_q <= st_small;
            n_is_rem_q  <= st_small && r_lo_next[12:0] < wr_size_q;
            tlp_last_q  <= st_small && r_lo_next[12:0] <= wr_size_q;
            // (used only if the command goes on: then this TLP ended on a WR_SIZE boundary, a_lo_next[1:0] = 0)
            one_beat_q  <= (st_small && 14'(r_lo_next[12:0]) <= 14'(NB)) || 14'(wr_size_q) <= 14'(NB);
            c4k_q       <= st_c4k;
            if (carry) begin
                a_hi_q     <= a_hi_inc_q;
                a_hi_inc_q <= a_hi_inc_q + 52'd1;
            end
            r_lo_q    <= r_lo_next[12:0];
            if (r_lo_next[13]) begin
                r_hi_q     <= r_hi_dec_q;
                r_hi_dec_q <= r_hi_dec_q - 19'd1;
            end
            done_lo_q <= done_lo_q + n[7:0];
        end
        abort_q    <= !rst && abort_ready && !abort_q;
        data_q     <= !rst && !abort_go && !xl_clamp
                      && ((start && is_copy) ? (load ? fits_sl : fits_st) : (load ? fits_ld : data_nx));
        ne_q       <= end_pos != plan_q;
        ne_stale_q <= rst || start || abort_go || end_pop || !end_valid;
        xl_hit_q  <= xl_hit;
        xl_req_q  <= xl_req && !rst;
        lk_pa_q   <= lk_pa;
        key_eq_q  <= key_eq;
        key_chg_q <= rst || load || (start && carry);
        if (start) begin
            t_nbeats_q   <= nbeats;
            t_hdr_q      <= hdr;
            t_fill_r_q   <= fill_r;
            t_wsh_q      <= wsh;
            t_last_q     <= tlp_last;
            t_free_end_q <= is_copy ? plan_q + PW'(n) : plan_q;
        end
        if (beat) begin
            t_rd_q  <= c_rd + PW'(NB);
            t_eop_q <= t_busy_q ? (t_beat_q + 11'd2 == t_nbeats_q) : two_beats;     // (c_beat = 0 at a first beat)
        end
        if (rst) begin
            nxt_valid_q <= 1'b0;
            cur_valid_q <= 1'b0;
            plan_q      <= '0;
            free_q      <= '0;
            t_busy_q    <= 1'b0;
            t_beat_q    <= '0;
            rel_q       <= 1'b0;
            xl_planned  <= '0;
            pw_q        <= 1'b0;
            rounds_q    <= '0;
        end else begin
            if (bof_go)      pw_q <= 1'b1;
            else if (pr_end) pw_q <= 1'b0;
            if (load || start) rounds_q <= '0;        // a new command, or the page was granted
            else if (bof_go)   rounds_q <= rounds_q + 3'd1;
            if (fill)         nxt_valid_q <= 1'b1;
            else if (load)    nxt_valid_q <= 1'b0;
            if (load)         cur_valid_q <= 1'b1;
            else if (cmd_end) cur_valid_q <= 1'b0;
            if (beat) begin
                t_busy_q <= !c_eop;
                t_beat_q <= c_eop ? 11'd0 : c_beat + 11'd1;
                t_sh_q   <= c_sh + 16'(NB);     // (used only inside a TLP, after a beat that did not end it)
            end
            if (start && is_copy) plan_q <= plan_q + PW'(n);
            // The buffer bytes of a TLP are handed back the cycle after its last beat read them.
            rel_q <= tlp_end;
            if (rel_q) free_q <= t_free_end_q;
            if (abort_go && is_copy) begin
                plan_q <= end_pos;
                free_q <= end_pos;
            end
            if (start && xl_on) xl_planned <= xl_planned + 16'd1;
        end
    end
`ifndef SYNTHESIS
    // (checks from the first reset on: the flip-flops start undefined)
    logic reset_seen_q;
    initial reset_seen_q = 1'b0;
    always_ff @(posedge clk) if (rst) reset_seen_q <= 1'b1;
    // The registered lookup is this cycle's whenever it is valid (imsdev_ats_atc's lk_stale contract), so with
    // a valid lookup xl_req is what this cycle's lookup would ask.
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && cur_valid_q && xl_on && xl_lk_ok)
            assert (xl_hit_q == xl_hit) else $error("imsdev_dma_wr: registered ATC lookup differs from this cycle's");
    end
    // the decision flip-flops equal their definitions (from the command's load on), the carry the sum's
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && cur_valid_q) begin
            assert (rem_small_q == (r_hi_q == '0) && n_is_rem_q == (rem_small_q && r_lo_q < tb_q)
                    && tlp_last_q == (rem_small_q && r_lo_q <= tb_q) && c4k_q == (13'(a_lo_q) + tb_q >= 13'd4096))
                else $error("imsdev_dma_wr: rem_small/n_is_rem/tlp_last/c4k %0b%0b%0b%0b differ from r %0d tb %0d a_lo %0d",
                            rem_small_q, n_is_rem_q, tlp_last_q, c4k_q, rem, tb_q, a_lo_q);
            if (start)
                assert (carry == a_lo_next[12]) else $error("imsdev_dma_wr: carry differs from a_lo + n");
        end
    end
    // the next command's derived values equal their definitions from its fields (so the load gives the
    // running registers what loading the FIFO head directly gave: the check above then holds from the load on)
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && nxt_valid_q)
            assert (nxt_a_hi_inc_q == nxt_a_hi_q + 52'd1 && nxt_r_hi_dec_q == nxt_r_hi_q - 19'd1
                    && nxt_tb_q == nxt_wr_size_q - 13'(nxt_a_lo_q & 12'(nxt_wr_size_q - 13'd1))
                    && nxt_rem_small_q == (nxt_r_hi_q == '0)
                    && nxt_n_is_rem_q == (nxt_rem_small_q && nxt_r_lo_q < nxt_tb_q)
                    && nxt_tlp_last_q == (nxt_rem_small_q && nxt_r_lo_q <= nxt_tb_q)
                    && nxt_c4k_q == (13'(nxt_a_lo_q) + nxt_tb_q >= 13'd4096)
                    && nxt_nothing_q == (nxt_invalid_q || {nxt_r_hi_q, nxt_r_lo_q} == 32'd0)
                    && nxt_len_q == {nxt_r_hi_q, nxt_r_lo_q})
                else $error("imsdev_dma_wr: next command's derived values differ from its fields");
    end
    // back to back: a command at the FIFO head in one cycle is in nxt_* (or taken) in the next, so a
    // command queued behind a running one is taken in the cycle that one ends
    logic cmd_valid_q;
    always_ff @(posedge clk) cmd_valid_q <= cmd_valid && !rst;
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && cmd_valid_q)
            assert (nxt_valid_q) else $error("imsdev_dma_wr: a command waited at the FIFO head with the next-command slot empty");
    end
    // the abort taken a cycle after its decision: the decision still holds
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && abort_go)
            assert (abort_ready)
                else $error("imsdev_dma_wr: abort taken with its decision gone (abort %0b, end_valid %0b, tags busy %0b, credit %0b)",
                            abort, end_valid, fail_q_busy, credit);
    end
    // the registered bytes-left compare is this cycle's wherever it decides, and start's guard is abort,
    // clamp or the stale cycle between them
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && clamp_case && !ne_stale_q)
            assert (ne_q == (end_pos != plan_q))
                else $error("imsdev_dma_wr: registered bytes-left compare %0b differs from end %0d != plan %0d",
                            ne_q, end_pos, plan_q);
        if (reset_seen_q && !rst)
            assert (abort_or_clamp == (abort || xl_clamp || (clamp_case && ne_stale_q)))
                else $error("imsdev_dma_wr: start's guard %0b differs from abort %0b, clamp %0b, stale wait %0b",
                            abort_or_clamp, abort, xl_clamp, clamp_case && ne_stale_q);
    end
    // the credit register counts what the FIFO and stage D hold (so credit is the plain room compare)
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst)
            assert (32'(occ_q) == 32'(fifo_count) + 32'(d_valid_q) && credit == (32'(fifo_count) + 32'(d_valid_q) < OUT_DEPTH))
                else $error("imsdev_dma_wr: occupancy %0d differs from the output FIFO's count %0d + stage D %0b",
                            occ_q, fifo_count, d_valid_q);
    end
    // the one-adder buffer check equals the compare wherever a TLP may start
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && cur_valid_q && !t_busy_q && !cur_nothing_q && is_copy && !wf_q)
            assert (data_nx == (n_is_rem ? 32'(PW'(avail_base + avail_add - plan_q)) >= 32'(r_lo_q)
                                         : 32'(PW'(avail_base + avail_add - plan_q)) >= 32'(to_bound)))
                else $error("imsdev_dma_wr: buffer check %0b differs from next have %0d >= n (rem %0d, tb %0d)",
                            data_nx, PW'(avail_base + avail_add - plan_q), r_lo_q, to_bound);
    end
    // the registered buffer check never claims bytes that are not there, and after a cycle without a start,
    // load, abort or clamp it is the compare, wherever it is used: a COPY with bytes to write (start needs
    // !cur_nothing_q; a FILL or WRITE does not look at it). There n is at least 1, which the one-adder checks'
    // range needs (have - n < 2^(PW-1) with have up to BUF_BYTES = 2^(PW-1): a command with nothing to write
    // and a full buffer of the next command's bytes gives have 4096, n 0, out of it; seen in test_stress-x86
    // on small, seed 139956554, when this check also covered such commands).
    logic data_quiet_q;
    always_ff @(posedge clk) begin
        data_quiet_q <= !rst && cur_valid_q && !start && !load && !abort_go && !xl_clamp;
        if (reset_seen_q && !rst && cur_valid_q && !t_busy_q && !cur_nothing_q && is_copy && !wf_q) begin
            assert (!data_q || 32'(have) >= 32'(n))
                else $error("imsdev_dma_wr: registered buffer check claims %0d bytes with %0d buffered", n, have);
            assert (n != '0) else $error("imsdev_dma_wr: a COPY TLP of 0 bytes at a TLP boundary (have %0d)", have);
        end
        if (reset_seen_q && !rst && cur_valid_q && !cur_nothing_q && is_copy && data_quiet_q)
            assert (data_q == (32'(have) >= 32'(n)))
                else $error("imsdev_dma_wr: registered buffer check %0b differs from the compare (have %0d, n %0d)",
                            data_q, have, n);
    end
    // the registered key compare is this cycle's wherever an answer can be taken
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && xl_done && !key_chg_q)
            assert (key_eq_q == key_eq) else $error("imsdev_dma_wr: registered answer key compare differs from this cycle's");
    end
    // the kept shift is the one the beat count gives
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && t_busy_q)
            assert (t_sh_q == 16'(t_wsh_q) + 16'({t_beat_q, {LNB{1'b0}}}))
                else $error("imsdev_dma_wr: kept shift %0d differs from wsh %0d + beat %0d * %0d",
                            t_sh_q, t_wsh_q, t_beat_q, NB);
    end
    // one_beat_q is its definition wherever a TLP may start (and the next command's copy its own definition)
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && cur_valid_q && !t_busy_q && !cur_nothing_q)
            assert (one_beat_q == one_beat_def)
                else $error("imsdev_dma_wr: one_beat_q %0b differs from its definition (addr[1:0] %0d, rem %0d, tb %0d)",
                            one_beat_q, addr[1:0], rem, tb_q);
        if (reset_seen_q && !rst && nxt_valid_q)
            assert (nxt_one_beat_q == ((nxt_rem_small_q && 14'(nxt_a_lo_q[1:0]) + 14'(nxt_r_lo_q) <= 14'(NB))
                                       || 14'(nxt_a_lo_q[1:0]) + 14'(nxt_tb_q) <= 14'(NB)))
                else $error("imsdev_dma_wr: next command's one_beat differs from its fields");
    end
    // two_beats replaces `nbeats == 2` (c_beat + 2 == nbeats at a TLP's first beat) in t_eop_q's update
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && cur_valid_q && !t_busy_q && !cur_nothing_q)
            assert (two_beats == (nbeats == 11'd2))
                else $error("imsdev_dma_wr: two_beats %0b, nbeats %0d", two_beats, nbeats);
    end
`endif
endmodule

`default_nettype wire
