// Checker of one internal valid/ready handshake: simulation-only assertions (Verilator --assert), no
// outputs, nothing under SYNTHESIS. A request shown (valid) and not taken (ready low) stays shown next
// cycle with the same payload: no producer may withdraw or change a request it has offered (the
// consumers sample when they are ready, so a withdrawn message or command would be lost or torn).
// Checks run from the second clock edge on and not while rst.
`default_nettype none

module imsdev_handshake_check #(
    parameter int    WIDTH = 1,
    parameter string NAME  = "handshake"
) (
    input wire logic             clk,
    input wire logic             rst,
    input wire logic             valid,
    input wire logic             ready,
    input wire logic [WIDTH-1:0] payload
);
    initial begin
        if (WIDTH < 1) $fatal(1, "imsdev_handshake_check: WIDTH (%0d) must be at least 1", WIDTH);
    end

`ifndef SYNTHESIS
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic checks_on_q;
    initial checks_on_q = 1'b0;
    always_ff @(posedge clk) if (rst) checks_on_q <= 1'b1;

    logic             stall_q;
    logic [WIDTH-1:0] payload_q;
    always_ff @(posedge clk) begin
        stall_q   <= !rst && valid && !ready;
        if (valid && !ready) payload_q <= payload;     // read only after a stall (simulation time)
    end

    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && stall_q) begin
            assert (valid) else $error("%s: valid dropped before ready", NAME);
            assert (!valid || payload == payload_q) else $error("%s: payload changed while waiting for ready", NAME);
        end
    end
`else
    wire unused_ok = &{1'b0, clk, rst, valid, ready, payload};
`endif
endmodule

`default_nettype wire
