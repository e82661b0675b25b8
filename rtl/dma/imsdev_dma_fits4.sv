// a + d - b - c >= 0 as one carry chain: imsdev_dma_fits with a fourth operand added in the carry-save sum
// (two LUT levels of 3:2 compression, then one adder, its sign bit). For the write engine's registered
// buffer check, whose "a" is the read buffer's next fill position, itself a sum (the oldest tag's end plus
// the bytes its completion brings at this edge): adding d here instead of in front saves a carry chain on
// that path (Fmax, round 16: endp + bytes -> the check -> data_q was the whole design's worst path on two
// seeds). A separate module, not a port of imsdev_dma_fits: a constant d = 0 would still leave the second
// compression level in the three-operand checks. Exact while -2^(W-1) <= a + d - b - c < 2^(W-1) as integers
// (modulo 2^W for positions); the caller checks the answer against the plain compare in simulation.
`default_nettype none

module imsdev_dma_fits4 #(
    parameter int W = 8
) (
    input  wire logic [W-1:0] a,
    input  wire logic [W-1:0] b,
    input  wire logic [W-1:0] c,
    input  wire logic [W-1:0] d,
    output logic              fits
);
    initial begin
        if (W < 2) $fatal(1, "imsdev_dma_fits4: W (%0d) must be at least 2", W);
    end

    // a + d - b - c = a + d + ~b + ~c + 2
    wire [W-1:0] nb = ~b;
    wire [W-1:0] nc = ~c;
    wire [W-1:0] s1 = a ^ d ^ nb;
    wire [W-1:0] k1 = ((a & d) | (a & nb) | (d & nb)) << 1;
    wire [W-1:0] s2 = s1 ^ k1 ^ nc;
    wire [W-1:0] k2 = ((s1 & k1) | (s1 & nc) | (k1 & nc)) << 1;
    wire [W-1:0] r  = s2 + k2 + W'(2);
    assign fits = !r[W-1];
endmodule

`default_nettype wire
