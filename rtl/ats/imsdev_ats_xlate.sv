// ATS translation requester (docs/ats_pri.md 2.4): one outstanding Translation Request per side (slot 0: the
// read request generator, slot 1: the write engine), the request TLP, the Translation Completion check, the
// ATC insert and the outcome to the waiting side.
//
// A side that misses in the ATC asks (req_*, held while it waits); an idle slot takes the key and sends one
// MRd with AT = 01b, Length 2 (one translation), the page address, tag TAG_BASE + slot, the PASID prefix with
// PMR = priv, NW = 1 for the read side (bit 0 of the last header DW, docs/ats_pri.md 1.3). Its completion:
//  - SC CplD, Length 2, Byte Count 8, not poisoned, one beat: the entry (imsdev_ats_pkg::entry_from_payload)
//    is decoded; size below STU: failure (treated as UR, PCIe 10.2.3); U = 1 or R = W = 0: not cached;
//    otherwise inserted into the ATC (unless stale or ATS was disabled meanwhile). Outcome: GRANTED when the
//    side's permission (R for reads, W for writes) is there, else DENIED;
//  - UR, CA, RRS, reserved status, or a malformed SC: FAILED (malformed ones also pulse err_unexpected);
//  - none within CPL_TIMEOUT cycles of the request's acceptance: FAILED.
// Stale: an Invalidate Request for the slot's PASID (or without PASID), or an ATC clear, while the request is
// out marks it; its completion is then discarded and the request sent again (PCIe 10.3.6).
// A completion whose tag is a translation tag with no request out, or whose requester ID is not ours, is
// dropped with err_unexpected.
// done[s] pulses with the outcome and the key it answers, so a side that moved on ignores a late answer.
// Completion stage (Fmax): the completion's first beat is registered (its decoded fields: tag, status, the
// header checks, the entry and its S-decoded size) and checked, inserted and answered one cycle after it
// arrives, as if the link had delivered it one cycle later (everything that depends on state - the slot,
// ATS Enable, the requester ID, STU - is evaluated in the later cycle). Invalidations reach the stale marking
// through a register as well, so a completion is stale for the same invalidations as before (those up to its
// arrival; see inv_hit_q). The ATC gets the coming insert's key and size a cycle
// ahead (pre_*) so it can register its per-entry overlap test (imsdev_ats_atc). Translations are rare and
// take a host round trip, so the extra cycle costs nothing measurable.
`default_nettype none

module imsdev_ats_xlate #(
    parameter int DATA_W      = 256,
    parameter int TAG_BASE    = 16,
    parameter int CPL_TIMEOUT = 131072,
    localparam int SZ_W       = imsdev_ats_pkg::SZ_W
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,
    input  wire logic              cfg_ats_en,
    input  wire logic [4:0]        cfg_ats_stu,

    // requests from the sides: [0] read, [1] write
    input  wire logic [1:0]        req_valid,
    input  wire logic [1:0][19:0]  req_pasid,
    input  wire logic [1:0]        req_priv,
    input  wire logic [1:0][51:0]  req_page,
    output      logic [1:0]        done,
    output      logic [1:0][1:0]   done_res,       // XL_GRANTED / XL_DENIED / XL_FAILED
    output      logic [1:0][19:0]  done_pasid,
    output      logic [1:0]        done_priv,
    output      logic [1:0][51:0]  done_page,

    // Translation Request TLP (one beat)
    output      logic              xr_valid,
    input  wire logic              xr_ready,
    output      logic [127:0]      xr_hdr,
    output      logic [31:0]       xr_prfx,

    // completions with a translation tag (the DMA engine's demux); one beat is looked at per TLP (sop)
    input  wire logic              cv_valid,
    input  wire logic              cv_sop,
    input  wire logic              cv_eop,
    input  wire logic [127:0]      cv_hdr,
    input  wire logic [63:0]       cv_data,

    // ATC insert
    output      logic              ins_valid,
    output      logic [19:0]       ins_pasid,
    output      logic              ins_priv,
    output      logic [51:0]       ins_page,
    output      logic [51:0]       ins_pa,
    output      logic [SZ_W-1:0]   ins_size,
    output      logic              ins_r,
    output      logic              ins_w,
    // the next cycle's insert (if there is one): its key and size, one cycle before ins_*
    output      logic [19:0]       pre_pasid,
    output      logic              pre_priv,
    output      logic [51:0]       pre_page,
    output      logic [SZ_W-1:0]   pre_size,

    // stale marking: an Invalidate Request taken (with/without PASID), or the ATC cleared
    input  wire logic              inv_valid,
    input  wire logic              inv_has_pasid,
    input  wire logic [19:0]       inv_pasid,
    input  wire logic              atc_clear,

    output      logic              err_unexpected
);
    import imsdev_tlp_pkg::*;
    import imsdev_ats_pkg::*;

    localparam logic [1:0] XL_GRANTED = 2'd0, XL_DENIED = 2'd1, XL_FAILED = 2'd2;
    localparam logic [1:0] S_IDLE = 2'd0, S_PEND = 2'd1, S_SENT = 2'd2;
    localparam int CW = $clog2(CPL_TIMEOUT + 1) + 1;

    initial begin
        if (TAG_BASE < 2 || TAG_BASE + 2 > 256) $fatal(1, "imsdev_ats_xlate: TAG_BASE (%0d) must be 2..254", TAG_BASE);
    end

    logic [1:0][1:0]  st_q;
    logic [1:0]       stale_q, priv_q;
    logic [1:0][19:0] pasid_q;
    logic [1:0][51:0] page_q;
    logic [1:0][CW-1:0] age_q;
    logic             turn_q;                  // the slot sent next when both are pending

    // ---------------------------------------------------------------- request TLP
    wire [1:0] pend = {st_q[1] == S_PEND, st_q[0] == S_PEND};
    wire       pick = (pend[1] && (!pend[0] || turn_q)) ? 1'b1 : 1'b0;
    logic      hold_q, hold_pick_q;            // a shown request stays shown until taken
    wire       sel  = hold_q ? hold_pick_q : pick;
    wire [63:0] xr_addr = {page_q[sel], 12'd0};
    always_comb begin
        xr_hdr = mrd_hdr(xr_addr, 10'd2, cfg_bdf, 8'(TAG_BASE + int'(sel)), 4'hF, 4'hF);
        xr_hdr[107:106] = 2'b01;                               // AT: Translation Request
        if (xr_addr[63:32] != 32'd0) xr_hdr[0]  = !sel;        // NW: read side asks read-only
        else                         xr_hdr[32] = !sel;
    end
    assign xr_valid = hold_q || (pend != 2'b00);
    assign xr_prfx  = pasid_prfx(priv_q[sel], 1'b0, pasid_q[sel]);
    wire   xr_go    = xr_valid && xr_ready;

    // ---------------------------------------------------------------- completion stage
    // Pure functions of the arriving first beat, registered; the check below works on the registered copy.
    wire [7:0]  a_tag  = cpl_tag(cv_hdr);
    wire [63:0] a_ent  = entry_from_payload(cv_data);
    wire        a_slot = a_tag[0] ^ TAG_BASE[0];
    wire [SZ_W-1:0] a_size = s_decode(a_ent[11], a_ent[63:12]);
    wire        a_sc_ok = hdr_fmt_type(cv_hdr) == FT_CPLD && hdr_length(cv_hdr) == 10'd2
                          && cpl_byte_count(cv_hdr) == 12'd8 && !hdr_poisoned(cv_hdr) && cv_eop;
    // The completion's outcome is judged on arrival and registered with it (Fmax: the requester-ID compare,
    // the STU compare and the outcome were between the stage and `done`, the head of the answer -> fault ->
    // failure table path through the DMA sides). It uses cfg_bdf and cfg_ats_stu of the arrival cycle, one
    // cycle before the completion is taken: the two differ only if a configuration write lands in that cycle,
    // which orders the write after the completion (the check below compares wherever they did not change).
    logic [1:0] a_res;
    logic       a_malformed, a_cache;
    always_comb begin
        a_malformed = 1'b0;
        a_cache     = 1'b0;
        if (cpl_status(cv_hdr) != CPL_SC) a_res = XL_FAILED;        // UR, CA, RRS (not allowed), reserved
        else if (!a_sc_ok) begin
            a_res       = XL_FAILED;
            a_malformed = 1'b1;
        end else if (32'(a_size) < 32'(cfg_ats_stu)) a_res = XL_FAILED;
        else begin
            a_cache = (a_ent[0] || a_ent[1]) && !a_ent[2];
            a_res   = (a_cache && (a_slot ? a_ent[1] : a_ent[0])) ? XL_GRANTED : XL_DENIED;
        end
    end
    logic        q_v, q_xl, q_slot, q_sc_ok, q_rid_ok, q_malformed, q_cache;
    logic [1:0]  q_res;
    logic [15:0] q_rid;                        // q_rid, q_st, q_sc_ok: the fields as registered, for the
    logic [2:0]  q_st;                         // check of the outcome judged on arrival (unused in synthesis)
    logic [63:0] q_ent;
    logic [SZ_W-1:0] q_size;
    always_ff @(posedge clk) begin
        q_v     <= !rst && cv_valid && cv_sop;
        q_xl    <= a_tag == 8'(TAG_BASE) || a_tag == 8'(TAG_BASE + 1);
        q_slot  <= a_slot;
        q_rid   <= cpl_req_id(cv_hdr);
        q_rid_ok <= cpl_req_id(cv_hdr) == cfg_bdf;
        q_st    <= cpl_status(cv_hdr);
        q_sc_ok <= a_sc_ok;
        q_res   <= a_res;
        q_malformed <= a_malformed;
        q_cache <= a_cache;
        q_ent   <= a_ent;
        q_size  <= a_size;
    end
    // The insert the registered beat may make next cycle: its slot's key (which cannot change while the slot is
    // S_SENT, the only state in which the beat is taken: the key is loaded on S_IDLE -> S_PEND) and its size.
    assign pre_pasid = pasid_q[a_slot];
    assign pre_priv  = priv_q[a_slot];
    assign pre_page  = page_q[a_slot];
    assign pre_size  = a_size;

    // ---------------------------------------------------------------- completion check (registered first beat)
    wire        c_xl   = q_xl;
    wire        c_slot = q_slot;
    wire        c_live = c_xl && st_q[c_slot] == S_SENT && q_rid_ok;
    wire [63:0] ent    = q_ent;
    wire [SZ_W-1:0] e_size = q_size;
    wire        e_r = ent[0], e_w = ent[1];
    wire        take   = q_v && c_live;
    // outcome of the completion taken (judged on arrival, above)
    wire [1:0]  c_res       = q_res;
    wire        c_malformed = q_malformed;
    wire        c_cache     = q_cache;
    // Stale marking by an invalidation goes through the completion stage's delay too (Fmax: the PASID compare
    // with the invalidation arriving now was the head of the answer -> fault -> failure table path): inv_hit_q[s]
    // is last cycle's invalidation hitting slot s while it was out (S_SENT). A completion taken now arrived
    // last cycle, so it is stale for exactly the invalidations up to its arrival, as when it was taken on
    // arrival (an invalidation arriving now, after it, removes the inserted entry in the ATC in this same cycle:
    // imsdev_ats_atc drops an insert that overlaps an invalidation of its cycle, the state the old order gave
    // one edge later). The ATC clear is still taken in its own cycle (it empties the ATC anyway).
    logic [1:0] inv_hit_q;
    always_ff @(posedge clk) begin
        for (int s = 0; s < 2; s++)
            inv_hit_q[s] <= !rst && inv_valid && (!inv_has_pasid || inv_pasid == pasid_q[s]) && st_q[s] == S_SENT;
    end
    wire c_stale = stale_q[c_slot] || inv_hit_q[c_slot] || atc_clear;

    assign ins_valid = take && c_res != XL_FAILED && c_cache && !c_stale && cfg_ats_en;
    assign ins_pasid = pasid_q[c_slot];
    assign ins_priv  = priv_q[c_slot];
    assign ins_page  = page_q[c_slot];
    assign ins_pa    = ent[63:12];
    assign ins_size  = e_size;
    assign ins_r     = e_r;
    assign ins_w     = e_w;

    assign err_unexpected = (q_v && c_xl && !c_live) || (take && c_malformed);

    // ---------------------------------------------------------------- slots
    always_comb begin
        for (int s = 0; s < 2; s++) begin
            done_pasid[s] = pasid_q[s];
            done_priv[s]  = priv_q[s];
            done_page[s]  = page_q[s];
            done[s]       = 1'b0;
            done_res[s]   = XL_FAILED;
            if (take && c_slot == s[0] && !(c_stale && c_res != XL_FAILED)) begin
                done[s]     = 1'b1;
                done_res[s] = c_res;
            end else if (st_q[s] == S_SENT && 32'(age_q[s]) >= CPL_TIMEOUT && !(take && c_slot == s[0])) begin
                done[s]     = 1'b1;
                done_res[s] = XL_FAILED;
            end
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            st_q    <= '0;
            stale_q <= '0;
            turn_q  <= 1'b0;
            hold_q  <= 1'b0;
        end else begin
            if (xr_go) begin
                hold_q <= 1'b0;
                turn_q <= !sel;
            end else if (xr_valid && !hold_q) begin
                hold_q      <= 1'b1;
                hold_pick_q <= sel;
            end
            for (int s = 0; s < 2; s++) begin
                age_q[s] <= age_q[s] + ((32'(age_q[s]) < CPL_TIMEOUT) ? CW'(1) : CW'(0));
                case (st_q[s])
                    S_IDLE: if (req_valid[s]) begin
                        st_q[s]    <= S_PEND;
                        pasid_q[s] <= req_pasid[s];
                        priv_q[s]  <= req_priv[s];
                        page_q[s]  <= req_page[s];
                    end
                    S_PEND: if (xr_go && sel == s[0]) begin
                        st_q[s]    <= S_SENT;
                        stale_q[s] <= 1'b0;
                        age_q[s]   <= '0;
                    end
                    S_SENT: begin
                        if (inv_hit_q[s]) stale_q[s] <= 1'b1;     // (the slot was out at the invalidation)
                        if (atc_clear) stale_q[s] <= 1'b1;
                        if (take && c_slot == s[0])
                            st_q[s] <= (c_stale && c_res != XL_FAILED) ? S_PEND : S_IDLE;   // stale: ask again
                        else if (done[s])
                            st_q[s] <= S_IDLE;                                            // timeout
                    end
                    default: st_q[s] <= S_IDLE;
                endcase
            end
        end
    end

`ifndef SYNTHESIS
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic reset_seen_q;
    initial reset_seen_q = 1'b0;
    always_ff @(posedge clk) if (rst) reset_seen_q <= 1'b1;

    // The outcome judged on arrival is the one judged from the registered beat when taken, wherever the
    // configuration did not change in between (the old order: requester ID, status, form, STU, R/W/U bits).
    logic [15:0] ref_bdf_q;
    logic [4:0]  ref_stu_q;
    logic [1:0]  ref_res;
    logic        ref_malformed, ref_cache;
    always_ff @(posedge clk) begin
        ref_bdf_q <= cfg_bdf;
        ref_stu_q <= cfg_ats_stu;
    end
    always_comb begin
        ref_malformed = 1'b0;
        ref_cache     = 1'b0;
        if (q_st != CPL_SC) ref_res = XL_FAILED;
        else if (!q_sc_ok) begin
            ref_res       = XL_FAILED;
            ref_malformed = 1'b1;
        end else if (32'(q_size) < 32'(cfg_ats_stu)) ref_res = XL_FAILED;
        else begin
            ref_cache = (q_ent[0] || q_ent[1]) && !q_ent[2];
            ref_res   = (ref_cache && (q_slot ? q_ent[1] : q_ent[0])) ? XL_GRANTED : XL_DENIED;
        end
    end
    always_ff @(posedge clk) begin
        if (reset_seen_q && !rst && q_v && c_xl && ref_bdf_q == cfg_bdf && ref_stu_q == cfg_ats_stu)
            assert (q_rid_ok == (q_rid == cfg_bdf) && q_res == ref_res && q_malformed == ref_malformed
                    && q_cache == ref_cache)
                else $error("imsdev_ats_xlate: outcome on arrival rid_ok %0b res %0d malformed %0b cache %0b differs from the taken beat's",
                            q_rid_ok, q_res, q_malformed, q_cache);
    end
    // The stale decision of a completion taken from the stage equals the one made on its arrival (the old
    // order: every invalidation up to and including that cycle, a clear), plus a clear in the cycle it is taken.
    // Up to the arrival cycle means stale_q and the previous cycle's invalidation, still in inv_hit_q on arrival
    // (without it the check failed on a correct design: DMA block bench, ATS_ENTRIES4, SEED=349981268).
    logic ref_stale_q, ref_sent_q;
    always_ff @(posedge clk) begin
        ref_stale_q <= stale_q[a_slot] || inv_hit_q[a_slot]
                       || (inv_valid && (!inv_has_pasid || inv_pasid == pasid_q[a_slot])) || atc_clear;
        ref_sent_q  <= !rst && st_q[a_slot] == S_SENT;
        if (reset_seen_q && !rst && take && ref_sent_q)
            assert (c_stale == (ref_stale_q || atc_clear))
                else $error("imsdev_ats_xlate: stale %0b, on arrival %0b", c_stale, ref_stale_q);
    end
`endif

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, ent[11:2], DATA_W};   // (U, bit 2: judged on arrival)
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
