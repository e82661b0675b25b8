// Page Request Interface (docs/ats_pri.md 1.2, 1.5, 2.6): one page-request slot per DMA side (slot 0: the
// read side, slot 1: the write side, which also writes completion records), the Page Request TLP, the PRG
// Response match, and the status pulses of the PRI capability (owned by the link).
//
// A side whose translation was denied under Block-on-Fault asks (req_*, held until done); the slot:
//  - PRI unusable (Enable 0, Response Failure latched, allocation 0): done with PR_FAIL at once (the side
//    then behaves as without BOF);
//  - otherwise PEND: waits for a credit (page requests outstanding < cfg_pri_alloc), Bus Master Enable and the
//    output register. Taking the register issues the request: the slot is OUT (outstanding) from then on.
//    PRI disabled or reset, or RF, while PEND: done with PR_FAIL;
//  - OUT: the PRG Response whose PRG index is the slot's (and whose PASID, if it has a prefix, is the slot's)
//    ends it: Success -> PR_SUCCESS (re-translate), Invalid Request -> PR_INVALID, any other code -> PR_FAIL,
//    RF latched (pri_rf_set) and every other slot ends with PR_FAIL too; later responses are ignored until
//    Enable goes 0 -> 1. cfg_pri_reset (R with E = 0) ends every slot with PR_FAIL.
// A PRG Response matching no outstanding slot pulses pri_uprgi_set and is dropped (not while RF is latched).
// Both status pulses come from registers, one cycle after the response.
// Page Request: Msg to the Root Complex (Fmt/Type 0x30), TC 0, code 0x04, Requester ID cfg_bdf; bytes 8-11 =
// page address 63:32, bytes 12-15 = page address 31:12 | PRG index << 3 | L (1, one page per PRG) << 2 | W << 1
// | R (R for the read slot, W for the write slot); PASID prefix with PMR = the side's priv, ER = 0.
// PRG index = {per-slot counter (incremented at each request), slot}: never reused while outstanding, and a
// late or repeated response to an earlier request of the slot does not match.
// pri_stopped: no page request outstanding (the link shows PRI Status.Stopped from it while Enable is 0).
// The device never sends Stop Markers (docs/ats_pri.md 2.6).
`default_nettype none

module imsdev_pri #(
    parameter int SLOTS = 2,
    parameter logic [SLOTS-1:0] SLOT_WRITE = 2'b10,   // slot s asks for write access (W), else read (R)
    localparam int SW = (SLOTS > 1) ? $clog2(SLOTS) : 1
) (
    input  wire logic                  clk,
    input  wire logic                  rst,
    input  wire logic [15:0]           cfg_bdf,
    input  wire logic                  cfg_bus_master_en,
    input  wire logic                  cfg_pri_en,
    input  wire logic                  cfg_pri_reset,
    input  wire logic [31:0]           cfg_pri_alloc,

    // the DMA sides
    input  wire logic [SLOTS-1:0]      req,
    input  wire logic [SLOTS-1:0][19:0] req_pasid,
    input  wire logic [SLOTS-1:0]      req_priv,
    input  wire logic [SLOTS-1:0][51:0] req_page,
    output      logic [SLOTS-1:0]      done,
    output      logic [SLOTS-1:0][1:0] done_res,       // imsdev_ats_pkg::PR_*

    // messages taken from rx_msg (one per cycle, at sop)
    input  wire logic                  msg_valid,
    input  wire logic [127:0]          msg_hdr,
    input  wire logic                  msg_prfx_valid,
    input  wire logic [31:0]           msg_prfx,

    // Page Request to the message writer (header-only message with a PASID prefix)
    output      logic                  pq_valid,
    input  wire logic                  pq_ready,
    output      logic [127:0]          pq_hdr,
    output      logic [31:0]           pq_prfx,

    output      logic                  pri_stopped,
    output      logic                  pri_rf_set,
    output      logic                  pri_uprgi_set
);
    import imsdev_tlp_pkg::*;
    import imsdev_ats_pkg::*;

    localparam int CW = 9 - SW;                       // PRG index = {counter, slot}
    localparam logic [1:0] S_IDLE = 2'd0, S_PEND = 2'd1, S_OUT = 2'd2;

    initial begin
        if (SLOTS < 1 || SLOTS > 16 || (SLOTS & (SLOTS - 1)) != 0)
            $fatal(1, "imsdev_pri: SLOTS (%0d) must be a power of two, 1..16", SLOTS);
    end

    logic [SLOTS-1:0][1:0]    st_q;
    logic [SLOTS-1:0][19:0]   pasid_q;
    logic [SLOTS-1:0]         priv_q;
    logic [SLOTS-1:0][51:0]   page_q;
    logic [SLOTS-1:0][CW-1:0] cnt_q;
    logic                     rf_q, en_q;
    logic [SW-1:0]            rr_q;                  // the slot looked at first for the next request

    // ---------------------------------------------------------------- credits and the next request
    logic [SW:0] n_out;
    always_comb begin
        n_out = '0;
        for (int s = 0; s < SLOTS; s++) n_out = n_out + {{SW{1'b0}}, st_q[s] == S_OUT};
    end
    wire usable = cfg_pri_en && !rf_q && cfg_pri_alloc != 32'd0;
    logic          oq_valid_q;
    logic          pick_any;
    logic [SW-1:0] pick;
    always_comb begin
        pick_any = 1'b0;
        pick     = '0;
        for (int k = SLOTS - 1; k >= 0; k--) begin
            if (st_q[SW'(32'(rr_q) + k)] == S_PEND) begin
                pick_any = 1'b1;
                pick     = SW'(32'(rr_q) + k);
            end
        end
    end
    wire credit = 32'(n_out) < cfg_pri_alloc;
    logic m_rf;
    wire issue  = pick_any && credit && usable && !cfg_pri_reset && !m_rf && cfg_bus_master_en && !oq_valid_q;

    // ---------------------------------------------------------------- PRG Response
    wire        m_rsp   = msg_valid && (hdr_fmt_type(msg_hdr) == FT_MSG_ID || hdr_fmt_type(msg_hdr) == FT_MSGD_ID)
                          && msg_hdr[71:64] == MSG_CODE_PRG_RSP;
    wire [3:0]  m_code  = msg_hdr[47:44];
    wire [8:0]  m_prgi  = msg_hdr[40:32];
    wire [SW-1:0] m_slot = m_prgi[SW-1:0];
    wire        m_match = st_q[m_slot] == S_OUT && m_prgi[8:SW] == cnt_q[m_slot]
                          && (!msg_prfx_valid || msg_prfx[19:0] == pasid_q[m_slot]);
    wire        m_take  = m_rsp && !rf_q;
    assign      m_rf    = m_take && m_match && m_code != PRG_RSP_SUCCESS && m_code != PRG_RSP_INVALID;
    // (the status pulses leave from flip-flops, the cycle after the response: no glitch on the link's inputs)
    logic uprgi_q, rf_set_q;
    assign pri_uprgi_set = uprgi_q;
    assign pri_rf_set    = rf_set_q;

    // ---------------------------------------------------------------- slot outcomes
    always_comb begin
        for (int s = 0; s < SLOTS; s++) begin
            done[s]     = 1'b0;
            done_res[s] = PR_FAIL;
            case (st_q[s])
                S_IDLE: done[s] = req[s] && (!usable || cfg_pri_reset);
                S_PEND: done[s] = !usable || cfg_pri_reset || m_rf;
                S_OUT: begin
                    if (m_take && m_match && m_slot == SW'(s)) begin
                        done[s]     = 1'b1;
                        done_res[s] = (m_code == PRG_RSP_SUCCESS) ? PR_SUCCESS
                                    : (m_code == PRG_RSP_INVALID) ? PR_INVALID : PR_FAIL;
                    end else begin
                        done[s] = cfg_pri_reset || m_rf;
                    end
                end
                default: ;
            endcase
        end
    end

    // ---------------------------------------------------------------- Page Request TLP
    logic [127:0] oq_hdr_q;
    logic [31:0]  oq_prfx_q;
    logic [127:0] new_hdr;
    always_comb begin
        new_hdr = '0;
        new_hdr[127:120] = FT_MSG_RC;                    // Msg, 4DW, to the Root Complex; TC 0, no data
        new_hdr[95:80]   = cfg_bdf;
        new_hdr[71:64]   = MSG_CODE_PAGE_REQ;
        new_hdr[63:32]   = page_q[pick][51:20];          // page address 63:32
        new_hdr[31:12]   = page_q[pick][19:0];           // page address 31:12
        new_hdr[11:3]    = {cnt_q[pick], pick};          // PRG index
        new_hdr[2]       = 1'b1;                         // L: last (only) request of the PRG
        new_hdr[1]       = SLOT_WRITE[pick];             // W
        new_hdr[0]       = !SLOT_WRITE[pick];            // R
    end
    assign pq_valid = oq_valid_q;
    assign pq_hdr   = oq_hdr_q;
    assign pq_prfx  = oq_prfx_q;

    assign pri_stopped = n_out == '0;

    always_ff @(posedge clk) begin
        if (issue) begin
            oq_hdr_q  <= new_hdr;
            oq_prfx_q <= pasid_prfx(priv_q[pick], 1'b0, pasid_q[pick]);
        end
        for (int s = 0; s < SLOTS; s++) begin
            if (st_q[s] == S_IDLE && req[s]) begin
                pasid_q[s] <= req_pasid[s];
                priv_q[s]  <= req_priv[s];
                page_q[s]  <= req_page[s];
            end
        end
        if (rst) begin
            st_q       <= '0;
            cnt_q      <= '0;
            rf_q       <= 1'b0;
            en_q       <= 1'b0;
            rr_q       <= '0;
            oq_valid_q <= 1'b0;
            uprgi_q    <= 1'b0;
            rf_set_q   <= 1'b0;
        end else begin
            uprgi_q  <= m_take && !m_match;
            rf_set_q <= m_rf;
            en_q <= cfg_pri_en;
            if (cfg_pri_en && !en_q) rf_q <= 1'b0;       // Enable 0 -> 1 clears RF (PCIe T10-14)
            else if (m_rf)           rf_q <= 1'b1;
            if (issue)                         oq_valid_q <= 1'b1;
            else if (oq_valid_q && pq_ready)   oq_valid_q <= 1'b0;
            if (issue) rr_q <= pick + 1'b1;
            for (int s = 0; s < SLOTS; s++) begin
                // the counter moves on when a request stops being outstanding: its index is not used again
                // before the counter wraps, so a late or repeated response does not match the next request
                if (done[s]) begin
                    st_q[s] <= S_IDLE;
                    if (st_q[s] == S_OUT) cnt_q[s] <= cnt_q[s] + 1'b1;
                end else if (st_q[s] == S_IDLE && req[s]) st_q[s] <= S_PEND;
                else if (issue && pick == SW'(s)) st_q[s] <= S_OUT;
            end
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, msg_hdr[119:72], msg_hdr[63:48], msg_hdr[43:41], msg_hdr[31:0], msg_prfx[31:20]};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
