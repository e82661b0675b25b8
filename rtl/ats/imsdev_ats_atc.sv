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
    wire [51:0] ins_mask = size_mask(ins_size);
    wire [51:0] inv_mask = size_mask(inv_size);

    // ---------------------------------------------------------------- lookup
    // (va_q and pa_q are stored masked: pa_q | (page & mask) is the translated page)
    logic [1:0][ENTRIES-1:0] lk_e;
    logic [1:0][51:0]        lk_mask;
    always_comb begin
        for (int p = 0; p < 2; p++) begin
            lk_r[p]    = 1'b0;
            lk_w[p]    = 1'b0;
            lk_pa[p]   = '0;
            lk_mask[p] = '0;
            for (int e = 0; e < ENTRIES; e++) begin
                lk_e[p][e] = valid_q[e] && pasid_q[e] == lk_pasid[p] && priv_q[e] == lk_priv[p]
                             && ((va_q[e] ^ lk_page[p]) & ~mask_q[e]) == 52'd0;
                lk_r[p]    = lk_r[p] | (lk_e[p][e] & r_q[e]);
                lk_w[p]    = lk_w[p] | (lk_e[p][e] & w_q[e]);
                lk_pa[p]   = lk_pa[p] | ({52{lk_e[p][e]}} & pa_q[e]);
                lk_mask[p] = lk_mask[p] | ({52{lk_e[p][e]}} & mask_q[e]);
            end
            lk_hit[p] = |lk_e[p];
            lk_pa[p]  = lk_pa[p] | (lk_page[p] & lk_mask[p]);
        end
    end

    // ---------------------------------------------------------------- invalidate, insert
    logic [ENTRIES-1:0] inv_hit, ins_same;
    always_comb begin
        for (int e = 0; e < ENTRIES; e++) begin
            inv_hit[e]  = inv_valid && valid_q[e]
                          && (!inv_has_pasid || (pasid_q[e] == inv_pasid && overlap(va_q[e], mask_q[e], inv_page, inv_mask)));
            ins_same[e] = valid_q[e] && pasid_q[e] == ins_pasid && priv_q[e] == ins_priv
                          && overlap(va_q[e], mask_q[e], ins_page, ins_mask);
        end
    end
    wire ins_killed = inv_valid && (!inv_has_pasid || (ins_pasid == inv_pasid && overlap(ins_page, ins_mask, inv_page, inv_mask)));
    wire ins_go     = ins_valid && !ins_killed;

    // Victim: the first entry with the same key range, else the first free one, else the round-robin pointer.
    logic [IW-1:0] victim;
    logic          found;
    always_comb begin
        victim = rr_q;
        found  = 1'b0;
        for (int e = 0; e < ENTRIES; e++) begin
            if (!found && ins_same[e]) begin
                victim = IW'(e);
                found  = 1'b1;
            end
        end
        for (int e = 0; e < ENTRIES; e++) begin
            if (!found && !valid_q[e]) begin
                victim = IW'(e);
                found  = 1'b1;
            end
        end
    end
    wire used_rr = ins_go && !(|ins_same) && (&valid_q);

    always_ff @(posedge clk) begin
        if (ins_go) begin
            pasid_q[victim] <= ins_pasid;
            priv_q[victim]  <= ins_priv;
            va_q[victim]    <= ins_page & ~ins_mask;
            pa_q[victim]    <= ins_pa & ~ins_mask;
            mask_q[victim]  <= ins_mask;
            r_q[victim]     <= ins_r;
            w_q[victim]     <= ins_w;
        end
        lk_stale <= rst || clear || ins_go || inv_valid;
        if (rst || clear) begin
            valid_q <= '0;
            rr_q    <= '0;
        end else begin
            valid_q <= valid_q & ~inv_hit;
            if (ins_go) begin
                valid_q[victim] <= 1'b1;
                // other entries of the same key range than the victim are dropped (no duplicates)
                for (int e = 0; e < ENTRIES; e++)
                    if (ins_same[e] && IW'(e) != victim) valid_q[e] <= 1'b0;
            end
            if (used_rr) rr_q <= (rr_q == IW'(ENTRIES - 1)) ? '0 : rr_q + 1'b1;
        end
    end
endmodule

`default_nettype wire
