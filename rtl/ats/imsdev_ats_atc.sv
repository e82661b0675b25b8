// Address Translation Cache (docs/ats_pri.md 2.3): fully associative, ENTRIES entries compared in one cycle,
// round-robin replacement (an invalid entry is taken first).
//
// Key: {PASID, privileged, untranslated page number masked by the entry's size}. The device translates only
// PASID-tagged DMA, so there are no entries without a PASID. Value: translated page, size (log2 pages, from
// the completion's S encoding), R, W. Entries with R = W = 0 or U = 1 are never inserted (the caller drops
// them). Two lookup ports (read side, write side) are combinational; lk_pa is the translated page of the
// looked-up page (entry's base with the page's offset inside a large entry).
// An entry keeps its size as the page-number mask (size_mask), not as the 6-bit size: no decode on the
// lookup path. Since no two valid entries of one key overlap (the insert drops them), a lookup hits at most
// one entry, and the outputs are an AND-OR over the entries rather than a priority chain.
// Insert: an entry whose range overlaps the new one under the same key is replaced (no duplicates).
// Invalidate (one per cycle): with a PASID, that PASID's entries (both privilege levels) overlapping the
// range; without a PASID, every entry (PCIe 10.3.8: PASID entries at all addresses). clear empties it
// (ATS Enable 0 -> 1; reset and FLR come through rst). An invalidate and an insert in the same cycle: the
// invalidate is applied to the stored entries and the insert is not made if it overlaps (the caller marks
// such a translation stale anyway).
// Insert timing (Fmax): the victim is chosen in the insert's cycle and valid_q, rr_q change at that edge as
// before, but the entry's fields are written one edge later from a pending copy (p_*, p_hot: the victim as a
// one-hot register), so the enables of the entries' ~1,400 flip-flops come from a register instead of the
// key compare -> victim chain. While an entry is pending (p_hot), every user of its fields (lookups,
// invalidation, the next insert's overlap check) takes them from the pending copy: the cache behaves
// exactly as if written at the first edge (simulation: a reference ATC of the direct form is compared every
// cycle, below).
// Insert decision (Fmax): the caller gives the key and size of the next cycle's insert one cycle ahead
// (pre_*; imsdev_ats_xlate registers the translation completion for this). The overlap test of that key with
// every entry (the entry's fields as they will be in the insert's cycle) and with the insert being made now is
// registered (same_e_q, same_p_q), and so is its size mask (ins_mask), so the insert's cycle has only the
// victim choice between flip-flops and valid_q / p_hot / rr_q. Contract: whenever ins_valid, ins_pasid /
// ins_priv / ins_page / ins_size equal the last cycle's pre_*. ins_size itself is then only checked (simulation).
// lk_stale: an insert, an invalidation, a clear or a reset was applied at the last clock edge. A caller that
// registers a lookup result may use it in the next cycle, for the same key, when lk_stale is 0: the result
// is then what the lookup gives now (the DMA sides plan TLPs from registered hits, off the lookup path).
`default_nettype none

module imsdev_ats_atc #(
    parameter int ENTRIES = 8,
    localparam int SZ_W  = imsdev_ats_pkg::SZ_W,
    localparam int IW    = (ENTRIES > 1) ? $clog2(ENTRIES) : 1
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic              clear,

    // lookup ports: [0] read side, [1] write side
    input  wire logic [1:0][19:0]  lk_pasid,
    input  wire logic [1:0]        lk_priv,
    input  wire logic [1:0][51:0]  lk_page,
    output      logic [1:0]        lk_hit,
    output      logic [1:0]        lk_r,
    output      logic [1:0]        lk_w,
    output      logic [1:0][51:0]  lk_pa,

    input  wire logic              ins_valid,
    input  wire logic [19:0]       ins_pasid,
    input  wire logic              ins_priv,
    input  wire logic [51:0]       ins_page,
    input  wire logic [51:0]       ins_pa,
    input  wire logic [SZ_W-1:0]   ins_size,
    input  wire logic              ins_r,
    input  wire logic              ins_w,
    input  wire logic [19:0]       pre_pasid,     // the next cycle's ins_pasid / ins_priv / ins_page / ins_size
    input  wire logic              pre_priv,      // (when it has ins_valid)
    input  wire logic [51:0]       pre_page,
    input  wire logic [SZ_W-1:0]   pre_size,

    input  wire logic              inv_valid,
    input  wire logic              inv_has_pasid,
    input  wire logic [19:0]       inv_pasid,
    input  wire logic [51:0]       inv_page,
    input  wire logic [SZ_W-1:0]   inv_size,

    output      logic              lk_stale,      // the ATC may have changed at the last clock edge (see below)
    output      logic [ENTRIES-1:0] valid_o       // entries in use (coverage, block bench)
);
    import imsdev_ats_pkg::*;

    initial begin
        if (ENTRIES < 1 || ENTRIES > 64) $fatal(1, "imsdev_ats_atc: ENTRIES (%0d) must be 1..64", ENTRIES);
    end

    logic [ENTRIES-1:0] valid_q, r_q, w_q, priv_q;
    logic [19:0]        pasid_q [ENTRIES];
    logic [51:0]        va_q    [ENTRIES];
    logic [51:0]        pa_q    [ENTRIES];
    logic [51:0]        mask_q  [ENTRIES];   // size_mask(size) of the entry
    logic [IW-1:0]      rr_q;

    assign valid_o = valid_q;

    // Two naturally aligned ranges overlap when their page numbers agree above the larger size.
    // (sizes as their masks)
    function automatic logic overlap(input logic [51:0] a, input logic [51:0] amask,
                                     input logic [51:0] b, input logic [51:0] bmask);
        return ((a ^ b) & ~(amask | bmask)) == 52'd0;
    endfunction
    wire [51:0] pre_mask = size_mask(pre_size);
    logic [51:0] ins_mask;                 // size_mask(ins_size) by the pre_* contract (checked below)
    always_ff @(posedge clk) ins_mask <= pre_mask;
    wire [51:0] inv_mask = size_mask(inv_size);

    // ---------------------------------------------------------------- pending insert
    // The insert decided at the last edge: p_hot is its entry (one-hot, zero when none), p_* its fields
    // (loaded every cycle; only meaningful with p_hot set). The entry's own fields are written at this edge.
    logic [ENTRIES-1:0] p_hot;
    logic [19:0]        p_pasid;
    logic               p_priv, p_r, p_w;
    logic [51:0]        p_va, p_pa, p_mask;
    wire                p_live = |p_hot;     // (the victim's valid_q bit is set at the edge that sets p_hot)

    // ---------------------------------------------------------------- lookup
    // (va_q and pa_q are stored masked: pa_q | (page & mask) is the translated page)
    // A pending entry's stale fields are masked out (!p_hot[e]) and the pending copy is compared instead.
    logic [1:0][ENTRIES-1:0] lk_e;
    logic [1:0]              lk_p;
    logic [1:0][51:0]        lk_mask;
    always_comb begin
        for (int p = 0; p < 2; p++) begin
            lk_p[p]    = p_live && p_pasid == lk_pasid[p] && p_priv == lk_priv[p]
                         && ((p_va ^ lk_page[p]) & ~p_mask) == 52'd0;
            lk_r[p]    = lk_p[p] & p_r;
            lk_w[p]    = lk_p[p] & p_w;
            lk_pa[p]   = {52{lk_p[p]}} & p_pa;
            lk_mask[p] = {52{lk_p[p]}} & p_mask;
            for (int e = 0; e < ENTRIES; e++) begin
                lk_e[p][e] = valid_q[e] && pasid_q[e] == lk_pasid[p] && priv_q[e] == lk_priv[p]
                             && ((va_q[e] ^ lk_page[p]) & ~mask_q[e]) == 52'd0 && !p_hot[e];
                lk_r[p]    = lk_r[p] | (lk_e[p][e] & r_q[e]);
                lk_w[p]    = lk_w[p] | (lk_e[p][e] & w_q[e]);
                lk_pa[p]   = lk_pa[p] | ({52{lk_e[p][e]}} & pa_q[e]);
                lk_mask[p] = lk_mask[p] | ({52{lk_e[p][e]}} & mask_q[e]);
            end
            lk_hit[p] = (|lk_e[p]) | lk_p[p];
            lk_pa[p]  = lk_pa[p] | (lk_page[p] & lk_mask[p]);
        end
    end

    // ---------------------------------------------------------------- invalidate, insert
    // per entry from its own fields, and for the pending entry (p_hot) from the pending copy
    logic [ENTRIES-1:0] inv_e, inv_hit, ins_same, same_e_q, pre_e;
    logic               same_p_q;
    wire inv_p  = p_pasid == inv_pasid && overlap(p_va, p_mask, inv_page, inv_mask);
    // Same key range as the insert, registered from pre_*: pre_e[e] tests entry e's fields as they are after
    // this edge (a pending entry's from its copy, which is written now), same_p_q the insert made at this edge
    // (the pending entry of the next cycle; p_va is ins_page with the bits under the mask cleared, which the
    // overlap ignores anyway).
    always_comb begin
        for (int e = 0; e < ENTRIES; e++)
            pre_e[e] = p_hot[e] ? (p_pasid == pre_pasid && p_priv == pre_priv && overlap(p_va, p_mask, pre_page, pre_mask))
                                : (pasid_q[e] == pre_pasid && priv_q[e] == pre_priv
                                   && overlap(va_q[e], mask_q[e], pre_page, pre_mask));
    end
    always_ff @(posedge clk) begin
        same_e_q <= pre_e;
        same_p_q <= ins_pasid == pre_pasid && ins_priv == pre_priv && overlap(ins_page, ins_mask, pre_page, pre_mask);
    end
    always_comb begin
        for (int e = 0; e < ENTRIES; e++) begin
            inv_e[e]    = (!inv_has_pasid || (pasid_q[e] == inv_pasid && overlap(va_q[e], mask_q[e], inv_page, inv_mask)));
            inv_hit[e]  = inv_valid && valid_q[e] && (p_hot[e] ? (!inv_has_pasid || inv_p) : inv_e[e]);
            ins_same[e] = valid_q[e] && (p_hot[e] ? same_p_q : same_e_q[e]);
        end
    end
    wire ins_killed = inv_valid && (!inv_has_pasid || (ins_pasid == inv_pasid && overlap(ins_page, ins_mask, inv_page, inv_mask)));
    wire ins_go     = ins_valid && !ins_killed;

    // Victim: the first entry with the same key range, else the first free one, else the round-robin pointer.
    // One-hot (Fmax): each "first set bit" is x & -x (one carry chain) and the three candidates are chosen by
    // two flags, where the search as a loop over an encoded index was a chain of ENTRIES muxes per candidate
    // in front of valid_q / p_hot (the depth report's ATC cone, 15 levels). The reference ATC below keeps the
    // loop form, so valid_q, rr_q and the entries are compared with it every cycle.
    wire [ENTRIES-1:0] same_first = ins_same & (~ins_same + ENTRIES'(1));
    wire [ENTRIES-1:0] free_first = ~valid_q & (valid_q + ENTRIES'(1));
    wire [ENTRIES-1:0] rr_hot     = ENTRIES'(1) << rr_q;
    wire [ENTRIES-1:0] victim_hot = (|ins_same) ? same_first : (&valid_q) ? rr_hot : free_first;
    wire used_rr = ins_go && !(|ins_same) && (&valid_q);

    always_ff @(posedge clk) begin
        p_hot   <= '0;
        if (ins_go && !rst && !clear) p_hot <= victim_hot;     // (rst, clear: the entry is not kept)
        p_pasid <= ins_pasid;
        p_priv  <= ins_priv;
        p_va    <= ins_page & ~ins_mask;
        p_pa    <= ins_pa & ~ins_mask;
        p_mask  <= ins_mask;
        p_r     <= ins_r;
        p_w     <= ins_w;
        for (int e = 0; e < ENTRIES; e++) begin
            if (p_hot[e]) begin
                pasid_q[e] <= p_pasid;
                priv_q[e]  <= p_priv;
                va_q[e]    <= p_va;
                pa_q[e]    <= p_pa;
                mask_q[e]  <= p_mask;
                r_q[e]     <= p_r;
                w_q[e]     <= p_w;
            end
        end
        lk_stale <= rst || clear || ins_go || inv_valid;
        if (rst || clear) begin
            valid_q <= '0;
            rr_q    <= '0;
        end else begin
            valid_q <= valid_q & ~inv_hit;
            if (ins_go) begin
                // the victim is set; other entries of the same key range are dropped (no duplicates)
                valid_q <= ((valid_q & ~inv_hit) | victim_hot) & ~(ins_same & ~victim_hot);
            end
            if (used_rr) rr_q <= (rr_q == IW'(ENTRIES - 1)) ? '0 : rr_q + 1'b1;
        end
    end
`ifndef SYNTHESIS
    // Reference: the ATC in its direct form (the insert written at its own edge). The cache above must hold
    // the same entries (valid bits, round-robin pointer, and the fields of every valid entry, the pending
    // one's from its copy) and give the same lookups every cycle. Checks from the first reset on.
    logic [ENTRIES-1:0] ref_valid, ref_r, ref_w, ref_priv;
    logic [19:0]        ref_pasid [ENTRIES];
    logic [51:0]        ref_va    [ENTRIES];
    logic [51:0]        ref_pa    [ENTRIES];
    logic [51:0]        ref_mask  [ENTRIES];
    logic [IW-1:0]      ref_rr;
    logic               ref_on_q;
    initial ref_on_q = 1'b0;
    logic [ENTRIES-1:0] ref_inv, ref_same;
    logic [IW-1:0]      ref_victim;
    logic               ref_found;
    // Simulation time: the reference's per-entry loops run only in the cycles that read them (an invalidate:
    // ref_inv; an insert: ref_same and the victim, read only under ins_go), the lookups only with a valid
    // entry (none valid: no hit, the loops' result); outside those cycles the values are the loops' own
    // (ref_inv, lookups) or unread (ref_same, victim), so every check below compares what it did before.
    always_comb begin
        ref_inv    = '0;
        ref_same   = '0;
        ref_victim = ref_rr;
        ref_found  = 1'b0;
        if (inv_valid || ins_valid) begin
            for (int e = 0; e < ENTRIES; e++) begin
                ref_inv[e]  = inv_valid && ref_valid[e] && (!inv_has_pasid
                              || (ref_pasid[e] == inv_pasid && overlap(ref_va[e], ref_mask[e], inv_page, inv_mask)));
                ref_same[e] = ref_valid[e] && ref_pasid[e] == ins_pasid && ref_priv[e] == ins_priv
                              && overlap(ref_va[e], ref_mask[e], ins_page, size_mask(ins_size));
            end
            for (int e = 0; e < ENTRIES; e++)
                if (!ref_found && ref_same[e]) begin ref_victim = IW'(e); ref_found = 1'b1; end
            for (int e = 0; e < ENTRIES; e++)
                if (!ref_found && !ref_valid[e]) begin ref_victim = IW'(e); ref_found = 1'b1; end
        end
    end
    always_ff @(posedge clk) begin
        if (rst) ref_on_q <= 1'b1;
        if (ins_go) begin
            ref_pasid[ref_victim] <= ins_pasid;
            ref_priv[ref_victim]  <= ins_priv;
            ref_va[ref_victim]    <= ins_page & ~size_mask(ins_size);
            ref_pa[ref_victim]    <= ins_pa & ~size_mask(ins_size);
            ref_mask[ref_victim]  <= size_mask(ins_size);
            ref_r[ref_victim]     <= ins_r;
            ref_w[ref_victim]     <= ins_w;
        end
        if (rst || clear) begin
            ref_valid <= '0;
            ref_rr    <= '0;
        end else begin
            ref_valid <= ref_valid & ~ref_inv;
            if (ins_go) begin
                ref_valid[ref_victim] <= 1'b1;
                for (int e = 0; e < ENTRIES; e++)
                    if (ref_same[e] && IW'(e) != ref_victim) ref_valid[e] <= 1'b0;
            end
            if (ins_go && !(|ref_same) && (&ref_valid))
                ref_rr <= (ref_rr == IW'(ENTRIES - 1)) ? '0 : ref_rr + 1'b1;
        end
    end
    // the reference's lookups
    logic [1:0]       ref_lk_hit, ref_lk_r, ref_lk_w;
    logic [1:0][51:0] ref_lk_pa;
    always_comb begin
        for (int p = 0; p < 2; p++) begin
            ref_lk_hit[p] = 1'b0;
            ref_lk_r[p]   = 1'b0;
            ref_lk_w[p]   = 1'b0;
            ref_lk_pa[p]  = '0;
            if (|ref_valid) begin
                for (int e = 0; e < ENTRIES; e++)
                    if (ref_valid[e] && ref_pasid[e] == lk_pasid[p] && ref_priv[e] == lk_priv[p]
                        && ((ref_va[e] ^ lk_page[p]) & ~ref_mask[e]) == 52'd0) begin
                        ref_lk_hit[p] = 1'b1;
                        ref_lk_r[p]   = ref_r[e];
                        ref_lk_w[p]   = ref_w[e];
                        ref_lk_pa[p]  = ref_pa[e] | (lk_page[p] & ref_mask[e]);
                    end
            end
        end
    end
    // The registered insert key test: the pre_* contract, and ins_same against its direct form.
    logic [ENTRIES-1:0] dir_same;
    always_comb begin
        dir_same = '0;                       // read only with ins_valid (the check below)
        if (ins_valid) begin
            for (int e = 0; e < ENTRIES; e++)
                dir_same[e] = valid_q[e] && (p_hot[e]
                    ? (p_pasid == ins_pasid && p_priv == ins_priv && overlap(p_va, p_mask, ins_page, size_mask(ins_size)))
                    : (pasid_q[e] == ins_pasid && priv_q[e] == ins_priv
                       && overlap(va_q[e], mask_q[e], ins_page, size_mask(ins_size))));
        end
    end
    logic [19:0]     chk_pasid_q;
    logic            chk_priv_q;
    logic [51:0]     chk_page_q;
    logic [SZ_W-1:0] chk_size_q;
    always_ff @(posedge clk) begin
        chk_pasid_q <= pre_pasid;
        chk_priv_q  <= pre_priv;
        chk_page_q  <= pre_page;
        chk_size_q  <= pre_size;
        if (ref_on_q && !rst && ins_valid) begin
            assert ({ins_pasid, ins_priv, ins_page, ins_size} == {chk_pasid_q, chk_priv_q, chk_page_q, chk_size_q})
                else $error("imsdev_ats_atc: insert key differs from the last cycle's pre_* (contract)");
            assert (ins_same == dir_same)
                else $error("imsdev_ats_atc: registered insert key test %b, direct %b", ins_same, dir_same);
        end
    end
    always_ff @(posedge clk) begin
        if (ref_on_q && !rst) begin
            assert (valid_q == ref_valid && rr_q == ref_rr)
                else $error("imsdev_ats_atc: valid %b / rr %0d, reference %b / %0d", valid_q, rr_q, ref_valid, ref_rr);
            for (int e = 0; e < ENTRIES; e++)
                if (ref_valid[e])
                    assert (p_hot[e] ? {p_pasid, p_priv, p_va, p_pa, p_mask, p_r, p_w}
                                         == {ref_pasid[e], ref_priv[e], ref_va[e], ref_pa[e], ref_mask[e], ref_r[e], ref_w[e]}
                                     : {pasid_q[e], priv_q[e], va_q[e], pa_q[e], mask_q[e], r_q[e], w_q[e]}
                                         == {ref_pasid[e], ref_priv[e], ref_va[e], ref_pa[e], ref_mask[e], ref_r[e], ref_w[e]})
                        else $error("imsdev_ats_atc: entry %0d differs from the reference (pending %0b)", e, p_hot[e]);
            assert (lk_hit == ref_lk_hit && (lk_r & lk_hit) == (ref_lk_r & ref_lk_hit)
                    && (lk_w & lk_hit) == (ref_lk_w & ref_lk_hit)
                    && (!lk_hit[0] || lk_pa[0] == ref_lk_pa[0]) && (!lk_hit[1] || lk_pa[1] == ref_lk_pa[1]))
                else $error("imsdev_ats_atc: lookup differs from the reference");
        end
    end
`endif
endmodule

`default_nettype wire
