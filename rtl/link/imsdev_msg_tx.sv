// Turns interrupt messages (address, data) into one-beat, one-DWORD memory write TLPs on a request
// stream: a 3DW header when the address is below 4 GiB, 4DW above (PCIe §6.1.4.x: Message Address Upper
// 0 means a 32-bit write). Interrupt messages carry no PASID prefix.
// msg_raw: the TLP is msg_raw_hdr as given, a header-only message (the ATS Invalidate Completion,
// imsdev_ats_inv, or the PRI Page Request, imsdev_pri, with its PASID prefix msg_raw_prfx when
// msg_raw_prfx_valid); msg_addr and msg_data are then unused.
`default_nettype none

module imsdev_msg_tx #(
    parameter int DATA_W = 256
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,

    input  wire logic              msg_valid,
    output      logic              msg_ready,
    input  wire logic [63:0]       msg_addr,
    input  wire logic [31:0]       msg_data,
    input  wire logic              msg_raw,
    input  wire logic [127:0]      msg_raw_hdr,
    input  wire logic              msg_raw_prfx_valid,
    input  wire logic [31:0]       msg_raw_prfx,

    output      logic              tx_valid,
    input  wire logic              tx_ready,
    output      logic              tx_sop,
    output      logic              tx_eop,
    output      logic [127:0]      tx_hdr,
    output      logic              tx_prfx_valid,
    output      logic [31:0]       tx_prfx,
    output      logic [DATA_W-1:0] tx_data
);
    import imsdev_tlp_pkg::*;

    // Registered output stage with a skid entry so one message per cycle flows at full rate while the
    // stream's ready is not a combinational function of the upstream valid.
    logic          out_valid_q, skid_valid_q;
    logic [127:0]  out_hdr_q, skid_hdr_q;
    logic [31:0]   out_data_q, skid_data_q;
    logic          out_pv_q, skid_pv_q;          // PASID prefix (raw messages only)
    logic [31:0]   out_prfx_q, skid_prfx_q;

    wire [127:0] in_hdr = msg_raw ? msg_raw_hdr : mwr_hdr(msg_addr, 10'd1, cfg_bdf, 8'd0, 4'hF, 4'h0);
    wire         in_pv  = msg_raw && msg_raw_prfx_valid;

    assign msg_ready = !skid_valid_q;

    always_ff @(posedge clk) begin
        if (rst) begin
            out_valid_q  <= 1'b0;
            skid_valid_q <= 1'b0;
            out_hdr_q    <= '0;
            out_data_q   <= '0;
            skid_hdr_q   <= '0;
            skid_data_q  <= '0;
            out_pv_q     <= 1'b0;
            out_prfx_q   <= '0;
            skid_pv_q    <= 1'b0;
            skid_prfx_q  <= '0;
        end else begin
            if (!out_valid_q || tx_ready) begin
                if (skid_valid_q) begin
                    out_valid_q  <= 1'b1;
                    out_hdr_q    <= skid_hdr_q;
                    out_data_q   <= skid_data_q;
                    out_pv_q     <= skid_pv_q;
                    out_prfx_q   <= skid_prfx_q;
                    skid_valid_q <= msg_valid && msg_ready;
                    skid_hdr_q   <= in_hdr;
                    skid_data_q  <= msg_data;
                    skid_pv_q    <= in_pv;
                    skid_prfx_q  <= msg_raw_prfx;
                end else begin
                    out_valid_q <= msg_valid;
                    out_hdr_q   <= in_hdr;
                    out_data_q  <= msg_data;
                    out_pv_q    <= in_pv;
                    out_prfx_q  <= msg_raw_prfx;
                end
            end else if (msg_valid && msg_ready) begin
                skid_valid_q <= 1'b1;
                skid_hdr_q   <= in_hdr;
                skid_data_q  <= msg_data;
                skid_pv_q    <= in_pv;
                skid_prfx_q  <= msg_raw_prfx;
            end
        end
    end

    assign tx_valid      = out_valid_q;
    assign tx_sop        = 1'b1;
    assign tx_eop        = 1'b1;
    assign tx_hdr        = out_hdr_q;
    assign tx_prfx_valid = out_pv_q;
    assign tx_prfx       = out_pv_q ? out_prfx_q : '0;
    assign tx_data       = DATA_W'(out_data_q);
endmodule

`default_nettype wire
