// Round-robin arbiter for TLP streams (docs/tlp_interface.md) that keeps a TLP's beats together.
// Unbuffered: the selected input sees the output's ready directly, so "my last beat was accepted" means
// "it is on the link" — the descriptor engine relies on this to order a completion record write before
// the interrupt message that follows it.
`default_nettype none

module imsdev_tlp_arb #(
    parameter int N      = 2,
    parameter int DATA_W = 256,
    localparam int IW    = (N > 1) ? $clog2(N) : 1
) (
    input  wire logic                clk,
    input  wire logic                rst,

    input  wire logic [N-1:0]        in_valid,
    output      logic [N-1:0]        in_ready,
    input  wire logic [N-1:0]        in_sop,
    input  wire logic [N-1:0]        in_eop,
    input  wire logic [N*128-1:0]    in_hdr,
    input  wire logic [N-1:0]        in_prfx_valid,
    input  wire logic [N*32-1:0]     in_prfx,
    input  wire logic [N*DATA_W-1:0] in_data,

    output      logic                out_valid,
    input  wire logic                out_ready,
    output      logic                out_sop,
    output      logic                out_eop,
    output      logic [127:0]        out_hdr,
    output      logic                out_prfx_valid,
    output      logic [31:0]         out_prfx,
    output      logic [DATA_W-1:0]   out_data,
    output      logic [IW-1:0]       out_sel         // the input shown on out_* (with out_valid)
);
    initial if (N < 1) $fatal(1, "imsdev_tlp_arb: N must be >= 1");

    logic          locked_q;     // a TLP is being shown or sent: keep the grant
    logic [IW-1:0] owner_q;      // current / last grant
    logic [IW-1:0] sel;

    // Next requester after the last owner, so every input gets its turn.
    // Scanning from the farthest candidate to the nearest leaves the nearest valid one selected.
    always_comb begin
        sel = owner_q;
        if (!locked_q) begin
            for (int k = N; k >= 1; k--) begin
                if (in_valid[(int'(owner_q) + k) % N]) sel = IW'((int'(owner_q) + k) % N);
            end
        end
    end

    assign out_sel        = sel;
    assign out_valid      = in_valid[sel];
    assign out_sop        = in_sop[sel];
    assign out_eop        = in_eop[sel];
    assign out_hdr        = in_hdr[sel*128 +: 128];
    assign out_prfx_valid = in_prfx_valid[sel];
    assign out_prfx       = in_prfx[sel*32 +: 32];
    assign out_data       = in_data[sel*DATA_W +: DATA_W];

    // Ready goes to every input that would be selected if it were valid: the granted one while locked, else
    // each input that no valid input comes before in round-robin order from the last owner. Only the selected
    // input is valid among those, so the transfers are the same as with ready for `sel` alone, but an
    // input's ready no longer depends on its own valid (Fmax: the DMA engine's valid decision ran through
    // `sel` back into its ready, the pop of its write output and the head of that FIFO).
    always_comb begin
        for (int i = 0; i < N; i++) begin
            in_ready[i] = out_ready;
            if (locked_q) begin
                if (int'(owner_q) != i) in_ready[i] = 1'b0;
            end else begin
                // inputs at round-robin distance 1 .. d-1 from the last owner come before input i
                for (int k = 1; k < N; k++) begin
                    if (k < (i - int'(owner_q) + N - 1) % N + 1 && in_valid[(int'(owner_q) + k) % N]) in_ready[i] = 1'b0;
                end
            end
        end
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            locked_q <= 1'b0;
            owner_q  <= '0;
        end else if (out_valid) begin
            // Hold the grant from the first cycle a beat is shown until the TLP's last beat is taken: a
            // stream may not change what it presents while valid && !ready.
            owner_q  <= sel;
            locked_q <= !(out_ready && out_eop);
        end
    end
endmodule

`default_nettype wire
