// a + b + c (mod 2^W) as one carry chain: a carry-save sum (one LUT level) and one adder (Fmax: two adders
// in series are two carry chains with a routed hop between them).
`default_nettype none

module imsdev_add3 #(
    parameter int W = 8
) (
    input  wire logic [W-1:0] a,
    input  wire logic [W-1:0] b,
    input  wire logic [W-1:0] c,
    output logic [W-1:0]      sum
);
    initial begin
        if (W < 2) $fatal(1, "imsdev_add3: W (%0d) must be at least 2", W);
    end

    wire [W-1:0] s = a ^ b ^ c;
    wire [W-1:0] k = W'({(a & b) | (a & c) | (b & c), 1'b0});
    assign sum = s + k;
endmodule

`default_nettype wire
