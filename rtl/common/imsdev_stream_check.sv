// Protocol checker of one TLP stream (docs/tlp_interface.md "Signals of one stream"): simulation-only
// assertions, checked by Verilator (--assert) in every test that drives the stream. It has no outputs and
// compiles to nothing under SYNTHESIS.
//
//   handshake  a beat shown (valid) and not taken (ready low) is shown again next cycle, unchanged
//              (sop, eop, hdr, prfx_valid, prfx, data);
//   framing    the first beat of a TLP has sop, the others not; hdr/prfx are held on every beat of it;
//   length     eop comes exactly on beat ceil(4*Length/B) of a TLP with payload (B = DATA_W/8 bytes per
//              beat, Length 0 = 1024 DW), and on its only beat for a TLP without payload;
//   header     a 3DW header leaves hdr[31:0] = 0; a prefix is the PASID prefix (0x91, bits 21:20 zero);
//              Fmt is one of 000..011 (prefixes travel on prfx).
// Checks run from the second clock edge on (random power-up values, --x-initial unique) and not while rst.
`default_nettype none

module imsdev_stream_check #(
    parameter int    DATA_W = 256,
    parameter string NAME   = "stream"
) (
    input wire logic              clk,
    input wire logic              rst,
    input wire logic              valid,
    input wire logic              ready,
    input wire logic              sop,
    input wire logic              eop,
    input wire logic [127:0]      hdr,
    input wire logic              prfx_valid,
    input wire logic [31:0]       prfx,
    input wire logic [DATA_W-1:0] data
);
    initial begin
        if (DATA_W < 64 || DATA_W % 64 != 0) $fatal(1, "imsdev_stream_check: DATA_W (%0d) must be a multiple of 64", DATA_W);
    end

`ifndef SYNTHESIS
    localparam int B      = DATA_W / 8;
    localparam int BEAT_W = $clog2(4096 / B + 1) + 1;

    // Beats of a TLP from its header's Fmt[1] (payload present, hdr[126]) and Length (hdr[105:96]).
    function automatic logic [BEAT_W-1:0] beats_of(input logic has_data, input logic [9:0] length);
        logic [10:0] len_dw;
        len_dw = (length == 10'd0) ? 11'd1024 : {1'b0, length};
        if (!has_data) return BEAT_W'(1);
        return BEAT_W'((32'(len_dw) * 4 + B - 1) / B);
    endfunction

    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic checks_on_q;
    initial checks_on_q = 1'b0;
    always_ff @(posedge clk) if (rst) checks_on_q <= 1'b1;

    logic              stall_q, in_tlp_q;
    logic              sop_q, eop_q, prfx_valid_q;
    logic [127:0]      hdr_q;
    logic [31:0]       prfx_q;
    logic [DATA_W-1:0] data_q;
    logic [BEAT_W-1:0] beat_q, total_q;
    wire               beat = valid && ready;
    wire  [BEAT_W-1:0] total = in_tlp_q ? total_q : beats_of(hdr[126], hdr[105:96]);
    wire  [BEAT_W-1:0] index = in_tlp_q ? beat_q : '0;

    always_ff @(posedge clk) begin
        if (rst) begin
            stall_q  <= 1'b0;
            in_tlp_q <= 1'b0;
            beat_q   <= '0;
            total_q  <= '0;
        end else begin
            stall_q <= valid && !ready;
            // read only after a stalled beat (stall_q): copied only then (simulation time)
            if (valid && !ready) {sop_q, eop_q, hdr_q, prfx_valid_q, prfx_q, data_q} <= {sop, eop, hdr, prfx_valid, prfx, data};
            if (beat) begin
                in_tlp_q <= !eop;
                beat_q   <= eop ? '0 : index + 1'b1;
                if (!in_tlp_q) total_q <= beats_of(hdr[126], hdr[105:96]);
            end
        end
    end

    // The header of the TLP under way (captured on its sop beat).
    logic [127:0] tlp_hdr_q;
    logic         tlp_prfx_valid_q;
    logic [31:0]  tlp_prfx_q;
    always_ff @(posedge clk) if (beat && !in_tlp_q) {tlp_hdr_q, tlp_prfx_valid_q, tlp_prfx_q} <= {hdr, prfx_valid, prfx};

    always_ff @(posedge clk) begin
        if (checks_on_q && !rst) begin
            if (stall_q) begin
                assert (valid) else $error("%s: valid dropped before ready took the beat", NAME);
                assert (!valid || {sop, eop, hdr, prfx_valid, prfx, data} == {sop_q, eop_q, hdr_q, prfx_valid_q, prfx_q, data_q})
                    else $error("%s: a beat changed while it waited for ready", NAME);
            end
            if (beat) begin
                assert (sop == !in_tlp_q) else $error("%s: sop=%0d on beat %0d of a TLP", NAME, sop, index);
                assert (!in_tlp_q || {hdr, prfx_valid, prfx} == {tlp_hdr_q, tlp_prfx_valid_q, tlp_prfx_q})
                    else $error("%s: hdr/prfx changed inside a TLP", NAME);
                assert (eop == (index + 1'b1 == total))
                    else $error("%s: eop=%0d on beat %0d of %0d (hdr %h)", NAME, eop, index + 1'b1, total, hdr);
                assert (!sop || hdr[127:125] <= 3'b011) else $error("%s: Fmt %b in hdr (prefixes go on prfx)", NAME, hdr[127:125]);
                assert (!sop || hdr[125] || hdr[31:0] == 32'd0) else $error("%s: 3DW header with hdr[31:0] = %h", NAME, hdr[31:0]);
                assert (!sop || !prfx_valid || (prfx[31:24] == 8'h91 && prfx[21:20] == 2'b00))
                    else $error("%s: prefix %h is not a PASID prefix", NAME, prfx);
            end
        end
    end
`else
    wire unused_ok = &{1'b0, clk, rst, valid, ready, sop, eop, hdr, prfx_valid, prfx, data};
`endif
endmodule

`default_nettype wire
