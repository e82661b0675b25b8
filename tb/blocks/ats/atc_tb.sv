// Block-bench top of the ATS ATC (tb/blocks/ats): the ATC itself, plus the ATS package's S decode and
// completion-entry byte order on spare ports so the bench checks them against its Python model. Not part of
// the product.
`default_nettype none

module atc_tb #(
    parameter int ENTRIES = 8
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic              clear,
    input  wire logic [19:0]       lk0_pasid, lk1_pasid,
    input  wire logic              lk0_priv, lk1_priv,
    input  wire logic [51:0]       lk0_page, lk1_page,
    output      logic              lk0_hit, lk1_hit, lk0_r, lk1_r, lk0_w, lk1_w,
    output      logic [51:0]       lk0_pa, lk1_pa,
    input  wire logic              ins_valid,
    input  wire logic [19:0]       ins_pasid,
    input  wire logic              ins_priv,
    input  wire logic [51:0]       ins_page,
    input  wire logic [51:0]       ins_pa,
    input  wire logic [5:0]        ins_size,
    input  wire logic              ins_r,
    input  wire logic              ins_w,
    input  wire logic [19:0]       pre_pasid,
    input  wire logic              pre_priv,
    input  wire logic [51:0]       pre_page,
    input  wire logic [5:0]        pre_size,
    input  wire logic              inv_valid,
    input  wire logic              inv_has_pasid,
    input  wire logic [19:0]       inv_pasid,
    input  wire logic [51:0]       inv_page,
    input  wire logic [5:0]        inv_size,
    output      logic              lk_stale,
    output      logic [ENTRIES-1:0] valid_o,
    // package functions
    input  wire logic              dec_s,
    input  wire logic [51:0]       dec_page,
    output      logic [5:0]        dec_size,
    input  wire logic [63:0]       pl_bytes,
    output      logic [63:0]       pl_entry
);
    logic [1:0] hit, r, w;
    logic [1:0][51:0] pa;
    imsdev_ats_atc #(.ENTRIES(ENTRIES)) u_atc (
        .clk, .rst, .clear,
        .lk_pasid({lk1_pasid, lk0_pasid}), .lk_priv({lk1_priv, lk0_priv}), .lk_page({lk1_page, lk0_page}),
        .lk_hit(hit), .lk_r(r), .lk_w(w), .lk_pa(pa),
        .ins_valid, .ins_pasid, .ins_priv, .ins_page, .ins_pa, .ins_size, .ins_r, .ins_w,
        .pre_pasid, .pre_priv, .pre_page, .pre_size,
        .inv_valid, .inv_has_pasid, .inv_pasid, .inv_page, .inv_size, .lk_stale, .valid_o
    );
    assign {lk1_hit, lk0_hit} = hit;
    assign {lk1_r, lk0_r} = r;
    assign {lk1_w, lk0_w} = w;
    assign lk0_pa = pa[0];
    assign lk1_pa = pa[1];
    assign dec_size = imsdev_ats_pkg::s_decode(dec_s, dec_page);
    assign pl_entry = imsdev_ats_pkg::entry_from_payload(pl_bytes);
endmodule

`default_nettype wire
