// PCIe ordering at the device's egress: a completion (tx_cpl) never passes a posted request (tx_req) that
// the device made before it (PCIe Base Specification, ordering rules: a completion may not pass a posted
// request). The device's two egress streams are one link: the hard IP sends their TLPs in handshake order
// (docs/tlp_interface.md, "Egress ordering"), so this unit holds a completion until every posted TLP that
// was committed before it has been accepted on tx_req.
//
// "Committed" is counted where a posted TLP becomes a promise of the device:
//   * an interrupt message when its engine (MSI-X or IMS) decides to send it (pushes it into its message
//     FIFO: the point at which the mask, pending and enable state were applied);
//   * a DMA write when its TLP is first presented by the DMA engine (the DMA engine answers a command only
//     after its last write beat was accepted, so nothing the device reports about a command can come
//     before its data; this only orders completions behind writes already shown to the link).
// A posted TLP "leaves" when its last beat is accepted on tx_req. When a completion first appears at the
// input, it takes a ticket: the number of commitments so far. It is shown on tx_cpl once that many posted
// TLPs have left. Commitments made after the ticket do not delay it, so a stream of posted writes never
// starves the completions.
//
// While Bus Master Enable is 0 the device sends no posted request at all; completions then do not wait
// (they would wait forever, and the host's reads must complete). The posted TLPs committed before follow
// once Bus Master Enable is set again, behind any completion sent meanwhile.
`default_nettype none

module imsdev_egress_order #(
    parameter int DATA_W    = 256,
    parameter int COMMITS   = 3,       // commitment pulses per cycle (one per source)
    parameter int COUNT_W   = 16       // wrap-around counters; must exceed twice the posted TLPs in flight
) (
    input  wire logic               clk,
    input  wire logic               rst,
    input  wire logic               cfg_bus_master_en,

    // Posted TLPs committed this cycle (one bit per source).
    input  wire logic [COMMITS-1:0] posted_commit,
    // The request stream as it leaves the device (observed, not changed).
    input  wire logic               req_valid,
    input  wire logic               req_ready,
    input  wire logic               req_eop,
    input  wire logic               req_is_posted,  // the TLP is a memory write (MWr, 3DW or 4DW)

    // Completions in (from the completion arbiter) and out (tx_cpl).
    input  wire logic               in_valid,
    output      logic               in_ready,
    input  wire logic               in_sop,
    input  wire logic               in_eop,
    input  wire logic [127:0]       in_hdr,
    input  wire logic [DATA_W-1:0]  in_data,

    output      logic               out_valid,
    input  wire logic               out_ready,
    output      logic               out_sop,
    output      logic               out_eop,
    output      logic [127:0]       out_hdr,
    output      logic [DATA_W-1:0]  out_data
);
    initial begin
        if (COMMITS < 1) $fatal(1, "imsdev_egress_order: COMMITS (%0d) must be >= 1", COMMITS);
        if (COUNT_W < 8) $fatal(1, "imsdev_egress_order: COUNT_W (%0d) must be >= 8", COUNT_W);
    end

    // Memory writes are the posted requests the device sends. req_is_posted comes from the requesters (which
    // of them is shown and whether it sends writes), not from decoding the shown header (Fmax: the header's
    // selection and decode were the head of this count); imsdev_top checks it against the header.
    wire leave = req_valid && req_ready && req_eop && req_is_posted;

    logic [COUNT_W-1:0] committed_q, left_q, ticket_q;
    // left_q + 1 in flip-flops (Fmax): `leave` ends on the link's ready, late in the cycle; it then only
    // selects the next count instead of carrying through an adder. A simulation check compares the two.
    logic [COUNT_W-1:0] left_up_q;
    logic               ticket_valid_q;   // the completion at the input holds a ticket
    logic               shown_q;          // a completion was shown and its last beat is not taken yet

    logic [COUNT_W-1:0] commits_now;
    always_comb begin
        commits_now = '0;
        for (int i = 0; i < COMMITS; i++) commits_now = commits_now + COUNT_W'(posted_commit[i]);
    end

    // A new completion's ticket: commitments up to the previous cycle (this cycle's are not before it).
    wire [COUNT_W-1:0] ticket = ticket_valid_q ? ticket_q : committed_q;
    // Signed distance: the posted TLPs committed before the ticket that have not left yet.
    wire [COUNT_W-1:0] behind = ticket - left_q;
    wire               clear  = behind == '0 || behind[COUNT_W-1];
    // Once shown, a completion stays shown until taken (the stream rule), whatever Bus Master Enable does.
    wire               go     = shown_q || clear || !cfg_bus_master_en;

    assign out_valid = in_valid && go;
    assign in_ready  = out_ready && go;
    assign out_sop   = in_sop;
    assign out_eop   = in_eop;
    assign out_hdr   = in_hdr;
    assign out_data  = in_data;

    always_ff @(posedge clk) begin
        if (rst) begin
            committed_q    <= '0;
            left_q         <= '0;
            left_up_q      <= COUNT_W'(1);
            ticket_q       <= '0;
            ticket_valid_q <= 1'b0;
            shown_q        <= 1'b0;
        end else begin
            committed_q <= committed_q + commits_now;
            if (leave) begin
                left_q    <= left_up_q;
                left_up_q <= left_up_q + COUNT_W'(1);
            end
            if (in_valid && in_sop && !shown_q && !ticket_valid_q) begin
                ticket_q       <= committed_q;
                ticket_valid_q <= 1'b1;
            end
            if (out_valid) shown_q <= !(out_ready && out_eop);
            if (out_valid && out_ready && out_eop) ticket_valid_q <= 1'b0;
        end
    end

`ifndef SYNTHESIS
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic reset_seen_q, checks_on_q;
    initial {reset_seen_q, checks_on_q} = 2'b00;
    always_ff @(posedge clk) begin
        if (rst) reset_seen_q <= 1'b1;
        checks_on_q <= reset_seen_q && !rst;
        if (checks_on_q && !rst)
            assert (left_up_q == left_q + COUNT_W'(1))
                else $error("imsdev_egress_order: left count %0d and its +1 copy %0d disagree", left_q, left_up_q);
    end
`endif
endmodule

`default_nettype wire
