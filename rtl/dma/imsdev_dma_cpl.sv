// Completion receiver of the DMA engine: checks every completion on rx_cpl against its tag, writes CplD
// payload into the read buffer and reports progress, errors and unexpected completions.
//
// Pipeline (one beat per cycle, rx_cpl is always ready):
//   I0 input register (the link's outputs go straight into flip-flops)
//   I  header decode: Byte Count, Lower Address, length, last, bytes, end of the valid payload, status, the
//      requester ID and tag checks, registered; the tag table is read by the tag in I0 and gives its entry
//      registered, as of stage A (imsdev_dma_tags)
//   A  at the first beat (sop): the checks against the tag's entry; the position of the payload's first byte
//      is tag position + bytes already received - (lower address & 3), and the valid payload bytes are
//      [lower address & 3, that + bytes in this completion). Every beat: buffer position and byte mask, from
//      running registers (the next beat's position, the valid bytes left from its byte 0).
//   B  buffer write; at the last beat (eop) the tag update (bytes received, final, error).
// Latency: a completion's data reaches the read buffer three cycles after its beat on rx_cpl (two before the
// Fmax round of 2026-12-07, which added I0 and moved the header's decode from A into I).
// A completion is *expected* when its tag is live, the requester ID is ours, and for SC: it is a CplD whose
// Byte Count equals the bytes still outstanding (address order), whose Lower Address matches, and whose
// length ends in the DW holding the last requested byte when it claims to be the last one. Anything else
// (unknown or finished tag, Cpl without data for SC, mismatching fields, not a completion at all) is
// dropped whole and flagged with one err_unexpected_cpl pulse.
// Errors: status UR -> DMA_READ_UR, any other non-SC status -> DMA_READ_CA; both end the request.
// A poisoned CplD -> DMA_READ_POISONED; its data is not written, and the request's remaining completions are
// still absorbed. For back-to-back completions of a tag, the second is checked against the first one's outcome
// (the bytes still expected, the next lower address and buffer position after it, kept in stage A's context),
// since the first one's update in stage B is not in the table's registered lookup yet.
`default_nettype none

module imsdev_dma_cpl #(
    parameter int DATA_W = 256,
    parameter int TAGS   = 16,
    parameter int PW     = 13,
    localparam int NB    = DATA_W / 8,
    localparam int LNB   = $clog2(NB),
    localparam int TW    = (TAGS > 1) ? $clog2(TAGS) : 1
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,

    input  wire logic              rx_cpl_valid,
    output      logic              rx_cpl_ready,
    input  wire logic              rx_cpl_sop,
    input  wire logic              rx_cpl_eop,
    input  wire logic [127:0]      rx_cpl_hdr,
    input  wire logic [DATA_W-1:0] rx_cpl_data,

    output      logic [TW-1:0]     lk_tag,
    input  wire logic              lk_live,
    input  wire logic [PW-1:0]     lk_pos,
    input  wire logic [12:0]       lk_rem,         // bytes still expected
    input  wire logic [12:0]       lk_rcvd,
    input  wire logic [6:0]        lk_la7,         // address [6:0] of the next expected byte

    output      logic              upd_valid,
    output      logic [TW-1:0]     upd_tag,
    output      logic [TW-1:0]     upd_tag_next,   // upd_tag after this edge (imsdev_dma_tags' registered tail compare)
    output      logic [12:0]       upd_bytes,
    output      logic              upd_final,
    output      logic              upd_err,
    output      logic [3:0]        upd_err_code,

    output      logic              buf_wr_valid,
    output      logic [PW-2:0]     buf_wr_pos,     // buffer index (position mod BUF_BYTES)
    output      logic [DATA_W-1:0] buf_wr_data,
    output      logic [NB-1:0]     buf_wr_mask,

    output      logic              err_unexpected_cpl
);
    import imsdev_tlp_pkg::*;
    import imsdev_dma_pkg::*;

    assign rx_cpl_ready = 1'b1;

    // ---------------------------------------------------------------- I0: input register
    // rx_cpl is registered as it arrives and only then decoded (Fmax: the header's decode, and the tag table's
    // read address, start at flip-flops, not at the link's outputs). Every completion reaches the read buffer
    // one cycle later than it would from the port directly; nothing else changes.
    logic              i0_valid_q, i0_sop_q, i0_eop_q;
    logic [127:0]      i0_hdr_q;
    logic [DATA_W-1:0] i0_data_q;

    always_ff @(posedge clk) begin
        i0_hdr_q  <= rx_cpl_hdr;
        i0_data_q <= rx_cpl_data;
        i0_sop_q  <= rx_cpl_sop;
        i0_eop_q  <= rx_cpl_eop;
        if (rst) i0_valid_q <= 1'b0;
        else     i0_valid_q <= rx_cpl_valid;
    end

    // ---------------------------------------------------------------- I: header decode
    // Everything the checks need from the header alone, registered beside the tag table's registered lookup
    // (the table is read by the tag in I0 and gives its entry registered, as of stage A).
    wire [7:0]  tag8   = cpl_tag(i0_hdr_q);
    wire [7:0]  ft     = hdr_fmt_type(i0_hdr_q);
    wire [2:0]  status = cpl_status(i0_hdr_q);
    wire [12:0] bc     = (cpl_byte_count(i0_hdr_q) == 12'd0) ? 13'd4096 : 13'(cpl_byte_count(i0_hdr_q));
    wire [6:0]  la     = cpl_lower_addr(i0_hdr_q);
    wire [10:0] len_dw = (hdr_length(i0_hdr_q) == 10'd0) ? 11'd1024 : 11'(hdr_length(i0_hdr_q));
    wire [12:0] room   = {len_dw, 2'b00} - 13'(la[1:0]);   // payload bytes from the first valid one
    // room - bc = length - (lower address & 3) - Byte Count as one carry chain (imsdev_add3; Fmax: room's
    // subtraction and then the compare with the Byte Count were two): its sign says whether this completion
    // carries the request's last byte (bc <= room), and with it < 4 the length ends in the DW of that byte.
    // a - b - c = a + ~b + ~c + 2, and the length's bits 1:0 are zero, so the + 2 is its bit 1 set.
    wire [13:0] room_bc;
    imsdev_add3 #(.W(14)) u_room_bc (.a({1'b0, len_dw, 2'b10}), .b(~14'(la[1:0])), .c(~14'(bc)), .sum(room_bc));
    wire        last    = !room_bc[13];               // |room - bc| < 2^13: no overflow
    wire        unused_room_bc = &{1'b0, room_bc[1:0]};   // (only whether room - bc < 4 is used)
    wire [12:0] nbytes  = last ? bc : room;
    wire [13:0] hi_last = 14'(la[1:0]) + 14'(bc);    // one past the last valid byte when it is the last
    wire        is_cpl = ft == FT_CPL || ft == FT_CPLD;
    wire        is_sc  = status == CPL_SC;
    wire        poison = is_sc && hdr_poisoned(i0_hdr_q);

    assign lk_tag = TW'(tag8);                       // the table gives this tag's entry in the next cycle

    logic              i_valid_q, i_sop_q, i_eop_q;
    logic [DATA_W-1:0] i_data_q;
    logic [TW-1:0]     i_tag_q;
    logic              i_hdr_ok_q;      // a completion, for our requester ID, with a tag that can exist
    logic              i_sc_ok_q;       // a CplD whose length ends in the DW of its last byte when it is the last
    logic              i_is_sc_q, i_write_q, i_final_q, i_err_q;
    logic [3:0]        i_code_q;
    logic [12:0]       i_bc_q, i_bytes_q;
    logic [6:0]        i_la_q;
    logic [1:0]        i_lo_q;
    logic [13:0]       i_hi_q;          // one past the payload's last valid byte, from the first payload byte
    logic              i_big_q;         // i_hi_q >= NB

    always_ff @(posedge clk) begin
        i_data_q   <= i0_data_q;
        i_sop_q    <= i0_sop_q;
        i_eop_q    <= i0_eop_q;
        i_tag_q    <= TW'(tag8);
        i_hdr_ok_q <= is_cpl && cpl_req_id(i0_hdr_q) == cfg_bdf && 32'(tag8) < TAGS;
        i_sc_ok_q  <= ft == FT_CPLD && (!last || room_bc[12:2] == '0);
        i_is_sc_q  <= is_sc;
        i_write_q  <= is_sc && !poison;
        i_final_q  <= !is_sc || last;
        i_err_q    <= !is_sc || poison;
        i_code_q   <= !is_sc ? ((status == CPL_UR) ? DMA_READ_UR : DMA_READ_CA) : DMA_READ_POISONED;
        i_bc_q     <= bc;
        i_la_q     <= la;
        i_lo_q     <= la[1:0];
        i_hi_q     <= last ? hi_last : {1'b0, len_dw, 2'b00};      // (la[1:0] + room is the length)
        i_big_q    <= last ? hi_last[13:LNB] != '0 : {1'b0, len_dw, 2'b00} >= 14'(NB);
        i_bytes_q  <= is_sc ? nbytes : 13'd0;
        if (rst) i_valid_q <= 1'b0;
        else     i_valid_q <= i0_valid_q;
    end

    // ---------------------------------------------------------------- A: checks (sop) and beat placement
    // Per-TLP context kept for the beats after the first, and, for the next completion, the tag's state after
    // this one (bytes still expected, next lower address, buffer position of the next byte).
    logic          c_drop_q, c_write_q, c_final_q, c_err_q;
    logic [3:0]    c_code_q;
    logic [TW-1:0] c_tag_q;
    logic [12:0]   c_bytes_q;
    logic [PW-1:0] c_pos_q;         // buffer position of the next beat's byte 0
    logic [13:0]   c_left_q;        // payload bytes from the next beat's byte 0 to the end of the valid ones
    logic          c_big_q;         // c_left_q >= NB
    logic [12:0]   c_rem_aft_q;
    logic [6:0]    c_la_aft_q;
    logic [PW-1:0] c_exp_aft_q;

    // Stage B registers (declared here for forwarding)
    logic          b_upd_valid_q, b_upd_final_q;
    logic [TW-1:0] b_upd_tag_q;
    logic [12:0]   b_upd_bytes_q;

    // A completion right behind another of its tag (in stage B, its update not yet in the table) is checked
    // against that one's outcome, kept in the context (Fmax: the forwarded bytes were added to the header's
    // fields in front of the compares; now both cases are equality compares of flip-flops, fwd picking one).
    // c_*_aft_q belong to the completion in stage B whenever fwd holds: its last beat was the beat before.
    wire        fwd      = b_upd_valid_q && b_upd_tag_q == i_tag_q;
    wire        live     = lk_live && !(fwd && b_upd_final_q);
    wire        pos_ok0  = i_bc_q == lk_rem && i_la_q == lk_la7;
    wire        pos_ok1  = i_bc_q == c_rem_aft_q && i_la_q == c_la_aft_q;
    wire        sc_ok    = i_sc_ok_q && (fwd ? pos_ok1 : pos_ok0);
    wire        expected = i_hdr_ok_q && live && (!i_is_sc_q || sc_ok);
    // The buffer position of the next expected byte (exp_pos), of the payload's first byte (p0: DW aligned
    // below it), of the second beat's byte 0 (p0 + NB) and of the byte after this completion: each formed for
    // both cases of fwd side by side, from the table (position + bytes received) or the context, fwd picking
    // one (Fmax: fwd, then the sum, then the next beat's position were three carry chains in series).
    wire [PW-1:0] lo_pw   = PW'(i_lo_q);
    wire [PW-1:0] lo_neg  = -lo_pw;
    wire [PW-1:0] lo_nb   = PW'(NB) - lo_pw;
    wire [PW-1:0] exp_tab, p0_tab, p1_tab, aft_tab;
    assign exp_tab = lk_pos + PW'(lk_rcvd);
    imsdev_add3 #(.W(PW)) u_p0_tab  (.a(lk_pos), .b(PW'(lk_rcvd)), .c(lo_neg),         .sum(p0_tab));
    imsdev_add3 #(.W(PW)) u_p1_tab  (.a(lk_pos), .b(PW'(lk_rcvd)), .c(lo_nb),          .sum(p1_tab));
    imsdev_add3 #(.W(PW)) u_aft_tab (.a(lk_pos), .b(PW'(lk_rcvd)), .c(PW'(i_bytes_q)), .sum(aft_tab));
    wire [PW-1:0] exp_pos = fwd ? c_exp_aft_q : exp_tab;
    wire [PW-1:0] p0      = fwd ? c_exp_aft_q + lo_neg : p0_tab;
    wire [PW-1:0] p1      = fwd ? c_exp_aft_q + lo_nb : p1_tab;
    wire [PW-1:0] exp_aft = fwd ? c_exp_aft_q + PW'(i_bytes_q) : aft_tab;

    // Values for this beat: from the header at sop, from the context afterwards.
    logic          a_drop, a_write, a_final, a_err;
    logic [3:0]    a_code;
    logic [TW-1:0] a_tag;
    logic [12:0]   a_bytes;
    logic [PW-1:0] a_pos;
    logic [13:0]   a_left;
    logic          a_big;

    always_comb begin
        if (i_sop_q) begin
            a_drop  = !expected;
            a_write = i_write_q;
            a_final = i_final_q;
            a_err   = i_err_q;
            a_code  = i_code_q;
            a_tag   = i_tag_q;
            a_bytes = i_bytes_q;
            a_pos   = p0;
            a_left  = i_hi_q;
            a_big   = i_big_q;
        end else begin
            a_drop  = c_drop_q;
            a_write = c_write_q;
            a_final = c_final_q;
            a_err   = c_err_q;
            a_code  = c_code_q;
            a_tag   = c_tag_q;
            a_bytes = c_bytes_q;
            a_pos   = c_pos_q;
            a_left  = c_left_q;
            a_big   = c_big_q;
        end
    end

    // Byte j of the beat is valid when it lies below the end (a_left bytes from byte 0) and, in the first beat,
    // at or above the first payload byte (lower address & 3); every later beat starts inside the payload.
    logic [NB-1:0] a_mask;
    always_comb begin
        for (int j = 0; j < NB; j++) begin
            a_mask[j] = (!i_sop_q || 2'(j) >= i_lo_q || j >= 4)
                        && (a_big || a_left[LNB-1:0] > LNB'(j));
        end
    end

    // After a reset (FLR) the link still delivers the rest of a completion whose first beat came before it:
    // c_drop_q starts at 1 so those beats are dropped until the next sop.
    always_ff @(posedge clk) begin
        if (rst) begin
            c_drop_q  <= 1'b1;
        end else if (i_valid_q) begin
            c_drop_q  <= a_drop;
        end
        if (i_valid_q) begin
            c_write_q <= a_write;
            c_final_q <= a_final;
            c_err_q   <= a_err;
            c_code_q  <= a_code;
            c_tag_q   <= a_tag;
            c_bytes_q <= a_bytes;
            c_pos_q   <= i_sop_q ? p1 : c_pos_q + PW'(NB);
            // (a_left >= NB: the next beat's bytes start NB later; below that no later byte is valid)
            c_left_q  <= a_big ? {a_left[13:LNB] - (14 - LNB)'(1), a_left[LNB-1:0]} : '0;
            c_big_q   <= a_left[13:LNB+1] != '0;
        end
        if (i_valid_q && i_sop_q) begin
            c_rem_aft_q <= (fwd ? c_rem_aft_q : lk_rem) - i_bytes_q;
            c_la_aft_q  <= (fwd ? c_la_aft_q : lk_la7) + i_bytes_q[6:0];
            c_exp_aft_q <= exp_aft;
        end
    end

    // ---------------------------------------------------------------- B: buffer write, tag update
    logic b_unexp_q;

    always_ff @(posedge clk) begin
        buf_wr_pos    <= (PW-1)'(a_pos);
        buf_wr_data   <= i_data_q;
        buf_wr_mask   <= a_mask;
        b_upd_tag_q   <= a_tag;
        b_upd_bytes_q <= a_bytes;
        b_upd_final_q <= a_final;
        upd_err       <= a_err;
        upd_err_code  <= a_code;
        if (rst) begin
            buf_wr_valid  <= 1'b0;
            b_upd_valid_q <= 1'b0;
            b_unexp_q     <= 1'b0;
        end else begin
            buf_wr_valid  <= i_valid_q && !a_drop && a_write;
            b_upd_valid_q <= i_valid_q && !a_drop && i_eop_q;
            b_unexp_q     <= i_valid_q && i_sop_q && a_drop;
        end
    end

    assign upd_valid          = b_upd_valid_q;
    assign upd_tag            = b_upd_tag_q;
    assign upd_tag_next       = a_tag;
    assign upd_bytes          = b_upd_bytes_q;
    assign upd_final          = b_upd_final_q;
    assign err_unexpected_cpl = b_unexp_q;

`ifndef SYNTHESIS
    // Nothing from a completion whose first beat came before a reset reaches the read buffer or the tag
    // table: after a reset, no buffer write and no tag update until a first beat (sop) has been taken.
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic checks_on_q, sop_seen_q;
    initial checks_on_q = 1'b0;
    always_ff @(posedge clk) if (rst) checks_on_q <= 1'b1;
    always_ff @(posedge clk) begin
        if (rst)                         sop_seen_q <= 1'b0;
        else if (i_valid_q && i_sop_q)   sop_seen_q <= 1'b1;
    end
    // The checks against the table with the forwarded bytes added (the form before the context kept the
    // tag's state after each completion): the position compares and the expected buffer position agree with
    // it wherever the completion can be taken (a live tag from our requester ID).
    wire [12:0] fwd_bytes    = fwd ? b_upd_bytes_q : 13'd0;
    wire        sc_ok_direct = i_sc_ok_q && i_bc_q + fwd_bytes == lk_rem && i_la_q - fwd_bytes[6:0] == lk_la7;
    wire [PW-1:0] exp_direct = lk_pos + PW'(lk_rcvd + fwd_bytes);
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && i_valid_q && i_sop_q && i_hdr_ok_q && live)
            assert (sc_ok == sc_ok_direct && exp_pos == exp_direct)
                else $error("imsdev_dma_cpl: check from the kept state (sc_ok %0b, position %0d) differs from the table's (%0b, %0d)",
                            sc_ok, exp_pos, sc_ok_direct, exp_direct);
    end
    // The header decode against its plain definitions: last = bc <= room and the length check (the end of
    // the valid payload and its ">= NB" flag are checked through the byte mask below).
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && i0_valid_q && i0_sop_q)
            assert (last == (bc <= room) && (!last || room_bc[12:2] == '0) == (!last || room - bc < 13'd4))
                else $error("imsdev_dma_cpl: header decode differs from its definition (bc %0d, room %0d, last %0b)",
                            bc, room, last);
    end
    // The context's state after a completion is the table's with that completion's update applied, wherever a
    // completion right behind it can be taken.
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && i_valid_q && i_sop_q && i_hdr_ok_q && live && fwd)
            assert (c_rem_aft_q == lk_rem - b_upd_bytes_q && c_la_aft_q == lk_la7 + b_upd_bytes_q[6:0])
                else $error("imsdev_dma_cpl: kept state after the completion before (rem %0d, la %0d) differs from the table's (%0d, %0d)",
                            c_rem_aft_q, c_la_aft_q, lk_rem - b_upd_bytes_q, lk_la7 + b_upd_bytes_q[6:0]);
    end
    // Beat placement against the beat count, from the table-plus-forward position (p0 = position + bytes
    // received - (lower address & 3), independent of the side-by-side sums) and the completion's bytes:
    // position p0 + beat, byte j valid when lo <= beat + j < lo + bytes.
    logic [12:0]   s_beat_q;
    logic [PW-1:0] s_p0_q;
    logic [1:0]    s_lo_q;
    logic [13:0]   s_hi_q;
    always_ff @(posedge clk) begin
        if (i_valid_q) begin
            s_beat_q <= (i_sop_q ? 13'd0 : s_beat_q) + 13'(NB);
            if (i_sop_q) begin
                s_p0_q <= s_p0;
                s_lo_q <= i_lo_q;
                s_hi_q <= s_hi;
            end
        end
    end
    wire [PW-1:0] s_p0 = exp_direct - PW'(i_lo_q);
    wire [13:0]   s_hi = 14'(i_lo_q) + 14'(i_bytes_q);     // (a written completion is SC: its bytes are nbytes)
    logic [NB-1:0] s_mask;
    always_comb begin
        logic [13:0] b;
        b = i_sop_q ? 14'd0 : 14'(s_beat_q);
        for (int j = 0; j < NB; j++)
            s_mask[j] = b + 14'(j) >= 14'(i_sop_q ? i_lo_q : s_lo_q) && b + 14'(j) < (i_sop_q ? s_hi : s_hi_q);
    end
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && i_valid_q && !a_drop && a_write)
            assert (a_mask == s_mask && a_pos == (i_sop_q ? s_p0 : s_p0_q + PW'(s_beat_q)))
                else $error("imsdev_dma_cpl: beat placement (mask %h, position %0d) differs from the beat count's (%h, %0d)",
                            a_mask, a_pos, s_mask, i_sop_q ? s_p0 : s_p0_q + PW'(s_beat_q));
    end
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst)
            assert (sop_seen_q || !(buf_wr_valid || b_upd_valid_q))
                else $error("imsdev_dma_cpl: a completion beat from before the reset was used");
    end
`endif
endmodule

`default_nettype wire
