// a - b - c >= 0 as one carry chain, for the DMA sides' buffer checks (the write engine's data in the buffer,
// the read request generator's free room, each against a TLP's length): a + ~b + ~c + 2 formed as a
// carry-save sum (one LUT level) and one adder, the answer its sign bit (Fmax: it was a subtraction and then
// a compare). Exact while -2^(W-1) <= a - b - c < 2^(W-1) as integers: the callers' operands are positions
// in a buffer of 2^(W-1) bytes and a length of at most half of it, and each caller checks the answer against
// the plain compare in simulation.
`default_nettype none

module imsdev_dma_fits #(
    parameter int W = 8
) (
    input  wire logic [W-1:0] a,
    input  wire logic [W-1:0] b,
    input  wire logic [W-1:0] c,
    output logic              fits
);
    initial begin
        if (W < 2) $fatal(1, "imsdev_dma_fits: W (%0d) must be at least 2", W);
    end

    wire [W-1:0] nb = ~b;
    wire [W-1:0] nc = ~c;
    wire [W-1:0] s  = a ^ nb ^ nc;                                  // a - b - c = a + ~b + ~c + 2
    wire [W-1:0] k  = ((a & nb) | (a & nc) | (nb & nc)) << 1;
    wire [W-1:0] d  = s + k + W'(2);
    assign fits = !d[W-1];
endmodule

`default_nettype wire
