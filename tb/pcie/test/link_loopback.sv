// Test RTL for the bench's link shim (tb/pcie): the smallest device behind docs/tlp_interface.md that
// exercises every path of the shim. Not part of the product.
//
// BAR0  0x000-0x3FF  RAM, 256 DW, for MMIO. MRd of 1..32 DW -> one CplD (longer -> CA); MWr honours BEs.
//                    0x200: data returned to the device's own MRd; 0x300: payload of the last accepted DMWr.
//       0x1000+4*i   registers REG_* below; an MWr there writes its first DW only.
// BAR2  DMWr portal: a 64-byte, 64-byte aligned DMWr with all BEs and a PASID prefix -> SC (stored) or
//       RRS while dmwr_full; any other DMWr -> UR. MRd to BAR2 -> UR; MWr to BAR2 is ignored.
// Upstream: writing REG_UP_GO sends one MWr (payload = RAM DW 0..len-1) or MRd (data -> RAM 0x200) with
//       the address, PASID prefix, length and tag from REG_UP_*; refused (REG_ERR bit 8) while BME is 0.
//       BME is registered first, as imsdev_top registers its cfg_* sideband (docs/tlp_interface.md), so a GO
//       taken in the cycle after a config write (an Initiate FLR's, say) still acts on the BME before it.
// rtl_bp_en adds pseudo-random backpressure (ready low) on rx_req and rx_cpl. Fault injection for the
// shim's checkers: cpl_hold withholds completions; break_valid_hold drops tx_cpl_valid while it is stalled.
`default_nettype none

module link_loopback #(
    parameter int DATA_W = 256
) (
    input  wire               clk,
    input  wire               rst,

    input  wire               rx_req_valid,
    output logic              rx_req_ready,
    input  wire               rx_req_sop,
    input  wire               rx_req_eop,
    input  wire [127:0]       rx_req_hdr,
    input  wire               rx_req_prfx_valid,
    input  wire [31:0]        rx_req_prfx,
    input  wire [DATA_W-1:0]  rx_req_data,
    input  wire [2:0]         rx_req_bar,

    output logic              tx_cpl_valid,
    input  wire               tx_cpl_ready,
    output logic              tx_cpl_sop,
    output logic              tx_cpl_eop,
    output logic [127:0]      tx_cpl_hdr,
    output logic              tx_cpl_prfx_valid,
    output logic [31:0]       tx_cpl_prfx,
    output logic [DATA_W-1:0] tx_cpl_data,

    output logic              tx_req_valid,
    input  wire               tx_req_ready,
    output logic              tx_req_sop,
    output logic              tx_req_eop,
    output logic [127:0]      tx_req_hdr,
    output logic              tx_req_prfx_valid,
    output logic [31:0]       tx_req_prfx,
    output logic [DATA_W-1:0] tx_req_data,

    input  wire               rx_cpl_valid,
    output logic              rx_cpl_ready,
    input  wire               rx_cpl_sop,
    input  wire               rx_cpl_eop,
    input  wire [127:0]       rx_cpl_hdr,
    input  wire               rx_cpl_prfx_valid,
    input  wire [31:0]        rx_cpl_prfx,
    input  wire [DATA_W-1:0]  rx_cpl_data,

    input  wire [15:0]        cfg_bdf,
    input  wire               cfg_bus_master_en,
    input  wire               cfg_msix_en,
    input  wire               cfg_msix_fn_mask,
    input  wire               cfg_pasid_en,
    input  wire               cfg_pasid_exec_en,
    input  wire               cfg_pasid_priv_en,
    input  wire [2:0]         cfg_max_payload,
    input  wire [2:0]         cfg_max_read_req,
    input  wire               flr,

    input  wire               dmwr_full,
    input  wire               rtl_bp_en,
    input  wire               cpl_hold,
    input  wire               break_valid_hold
);
    localparam int DPB = DATA_W / 32;        // DWs per beat
    localparam int RAM_DW = 256;
    localparam int MAX_RD_DW = 32;
    localparam int MAX_UP_DW = 16;
    localparam logic [7:0] RAM_UP_RD = 8'h80; // DW index of 0x200
    localparam logic [7:0] RAM_DMWR = 8'hC0;  // DW index of 0x300

    localparam logic [2:0] ST_SC = 3'b000, ST_UR = 3'b001, ST_RRS = 3'b010, ST_CA = 3'b100;

    localparam int REG_UP_ADDR_LO = 0, REG_UP_ADDR_HI = 1, REG_UP_PASID = 2, REG_UP_CTRL = 3, REG_UP_GO = 4,
                   REG_COUNTS = 5, REG_DMWR_INFO = 6, REG_CFG = 7, REG_FLR_COUNT = 8, REG_ERR = 9,
                   REG_UR_COUNT = 10;

    logic [31:0] ram [RAM_DW];

    // ------------------------------------------------------------------ backpressure source
    logic [15:0] lfsr;
    always_ff @(posedge clk) begin
        if (rst) lfsr <= 16'hACE1;
        else     lfsr <= {1'b0, lfsr[15:1]} ^ (lfsr[0] ? 16'hB400 : 16'h0000);
    end
    wire bp_rx_req = rtl_bp_en && lfsr[3] && lfsr[7];
    wire bp_rx_cpl = rtl_bp_en && lfsr[1] && lfsr[11];

    // ------------------------------------------------------------------ registers
    logic [31:0] up_addr_lo, up_addr_hi, up_pasid, up_ctrl;
    logic        up_busy, up_valid, err_bme;
    logic        bme_q;
    logic [15:0] dmwr_count, rxcpl_count, ur_count, flr_count;
    logic [31:0] dmwr_info;
    logic [2:0]  last_cpl_status;

    function automatic logic [31:0] reg_read(input logic [9:0] idx);
        case (int'(idx))
            REG_UP_ADDR_LO: return up_addr_lo;
            REG_UP_ADDR_HI: return up_addr_hi;
            REG_UP_PASID:   return up_pasid;
            REG_UP_CTRL:    return up_ctrl;
            REG_UP_GO:      return {31'd0, up_busy};
            REG_COUNTS:     return {rxcpl_count, dmwr_count};
            REG_DMWR_INFO:  return dmwr_info;
            REG_CFG:        return {cfg_bdf, 4'd0, cfg_max_read_req, cfg_max_payload, cfg_pasid_priv_en,
                                    cfg_pasid_exec_en, cfg_pasid_en, cfg_msix_fn_mask, cfg_msix_en,
                                    cfg_bus_master_en};
            REG_FLR_COUNT:  return {16'd0, flr_count};
            REG_ERR:        return {23'd0, err_bme, 5'd0, last_cpl_status};
            REG_UR_COUNT:   return {16'd0, ur_count};
            default:        return 32'd0;
        endcase
    endfunction

    function automatic logic [1:0] be_first_off(input logic [3:0] be);
        casez (be)
            4'b???1: return 2'd0;
            4'b??10: return 2'd1;
            4'b?100: return 2'd2;
            4'b1000: return 2'd3;
            default: return 2'd0;
        endcase
    endfunction

    function automatic logic [1:0] be_last_gap(input logic [3:0] be);
        casez (be)
            4'b1???: return 2'd0;
            4'b01??: return 2'd1;
            4'b001?: return 2'd2;
            4'b0001: return 2'd3;
            default: return 2'd0;
        endcase
    endfunction

    // ------------------------------------------------------------------ rx_req decode (hdr is held on every beat)
    wire [2:0]  rq_fmt   = rx_req_hdr[127:125];
    wire [4:0]  rq_type  = rx_req_hdr[124:120];
    wire [10:0] rq_len   = (rx_req_hdr[105:96] == 10'd0) ? 11'd1024 : {1'b0, rx_req_hdr[105:96]};
    wire [2:0]  rq_tc    = rx_req_hdr[118:116];
    wire [2:0]  rq_attr  = {rx_req_hdr[114], rx_req_hdr[109:108]};
    wire [9:0]  rq_tag   = {rx_req_hdr[119], rx_req_hdr[115], rx_req_hdr[79:72]};
    wire [15:0] rq_rid   = rx_req_hdr[95:80];
    wire [3:0]  rq_lbe   = rx_req_hdr[71:68];
    wire [3:0]  rq_fbe   = rx_req_hdr[67:64];
    wire [63:0] rq_addr  = rq_fmt[0] ? {rx_req_hdr[63:2], 2'b00} : {32'd0, rx_req_hdr[63:34], 2'b00};

    wire rq_is_mrd  = rq_fmt[2:1] == 2'b00 && rq_type == 5'b00000;
    wire rq_is_mwr  = rq_fmt[2:1] == 2'b01 && rq_type == 5'b00000;
    wire rq_is_dmwr = rq_fmt[2:1] == 2'b01 && rq_type == 5'b11011;
    wire rq_is_msg  = rq_type[4:3] == 2'b10;
    wire rq_np      = !rq_is_mwr && !rq_is_msg;

    wire rq_bar0    = rx_req_bar == 3'd0;
    wire rq_bar2    = rx_req_bar == 3'd2;
    wire rq_in_ram  = rq_addr[18:10] == 9'd0;
    wire rq_in_regs = rq_addr[18:12] == 7'd1;
    wire [7:0] rq_ram_base = rq_addr[9:2];
    wire [9:0] rq_reg_idx  = rq_addr[11:2];

    wire rq_dmwr_ok = rq_is_dmwr && rq_bar2 && rq_len == 11'd16 && rq_fbe == 4'hF && rq_lbe == 4'hF &&
                      rq_addr[5:0] == 6'd0 && rx_req_prfx_valid;

    logic        cpl_pending;
    assign rx_req_ready = !cpl_pending && !bp_rx_req;
    wire   rq_fire = rx_req_valid && rx_req_ready;

    logic [10:0] rq_beat;           // beats of the current TLP already taken
    logic        rq_dmwr_store_q;   // this DMWr is being accepted (decided on its sop beat)
    wire         rq_dmwr_store = rx_req_sop ? (rq_dmwr_ok && !dmwr_full) : rq_dmwr_store_q;

    // Per lane of the current beat: RAM address and byte enables of an MWr into BAR0 RAM or an accepted DMWr.
    logic [7:0] rq_wr_addr [DPB];
    logic [3:0] rq_wr_be   [DPB];
    always_comb begin
        for (int j = 0; j < DPB; j++) begin
            int idx;
            idx = int'(rq_beat) * DPB + j;
            rq_wr_addr[j] = 8'(int'(rq_ram_base) + idx);
            rq_wr_be[j]   = 4'h0;
            if (rq_fire && idx < int'(rq_len)) begin
                if (rq_is_mwr && rq_bar0 && rq_in_ram) begin
                    rq_wr_be[j] = (idx == 0) ? rq_fbe : (idx == int'(rq_len) - 1) ? rq_lbe : 4'hF;
                end else if (rq_is_dmwr && rq_dmwr_store) begin
                    rq_wr_addr[j] = 8'(int'(RAM_DMWR) + idx);
                    rq_wr_be[j]   = 4'hF;
                end
            end
        end
    end

    // Completion for the NP request whose eop is taken this cycle.
    logic [2:0]  nc_status;
    logic        nc_data;
    logic [11:0] nc_bc;
    logic [6:0]  nc_la;
    logic [31:0] nc_buf [MAX_RD_DW];
    always_comb begin
        nc_data = 1'b0;
        nc_la   = 7'd0;
        nc_bc   = 12'd4;
        if (rq_is_mrd) begin
            nc_status = !rq_bar0 ? ST_UR : (rq_len > 11'(MAX_RD_DW)) ? ST_CA : ST_SC;
            nc_data   = nc_status == ST_SC;
            nc_la     = {rq_addr[6:2], (rq_fbe == 4'h0) ? 2'd0 : be_first_off(rq_fbe)};
            if (rq_len == 11'd1)
                nc_bc = (rq_fbe == 4'h0) ? 12'd1 : 12'd4 - 12'(be_first_off(rq_fbe)) - 12'(be_last_gap(rq_fbe));
            else
                nc_bc = 12'({rq_len, 2'b00} - 13'(be_first_off(rq_fbe)) - 13'(be_last_gap(rq_lbe)));
        end else if (rq_is_dmwr) begin
            nc_status = !rq_dmwr_ok ? ST_UR : dmwr_full ? ST_RRS : ST_SC;
        end else begin
            nc_status = ST_UR;
        end
        for (int i = 0; i < MAX_RD_DW; i++) begin
            if (rq_in_ram)       nc_buf[i] = ram[8'(int'(rq_ram_base) + i)];
            else if (rq_in_regs) nc_buf[i] = reg_read(10'(int'(rq_reg_idx) + i));
            else                 nc_buf[i] = 32'd0;
        end
    end

    // ------------------------------------------------------------------ tx_cpl
    logic [2:0]  cpl_status, cpl_tc, cpl_attr;
    logic        cpl_data;
    logic [9:0]  cpl_len;
    logic [10:0] cpl_beat, cpl_beats;
    logic [11:0] cpl_bc;
    logic [6:0]  cpl_la;
    logic [9:0]  cpl_tag;
    logic [15:0] cpl_rid, cpl_cid;
    logic [31:0] cpl_buf [MAX_RD_DW];

    logic cpl_stalled;
    assign tx_cpl_valid      = cpl_pending && !cpl_hold && !(break_valid_hold && cpl_stalled);
    assign tx_cpl_sop        = cpl_beat == 11'd0;
    assign tx_cpl_eop        = cpl_beat == cpl_beats - 11'd1;
    assign tx_cpl_prfx_valid = 1'b0;
    assign tx_cpl_prfx       = 32'd0;
    assign tx_cpl_hdr = {cpl_data ? 3'b010 : 3'b000, 5'b01010, cpl_tag[9], cpl_tc, cpl_tag[8], cpl_attr[2],
                         4'b0000, cpl_attr[1:0], 2'b00, cpl_data ? cpl_len : 10'd0,
                         cpl_cid, cpl_status, 1'b0, cpl_bc,
                         cpl_rid, cpl_tag[7:0], 1'b0, cpl_la,
                         32'd0};
    always_comb begin
        for (int j = 0; j < DPB; j++) begin
            int idx;
            idx = int'(cpl_beat) * DPB + j;
            tx_cpl_data[32*j +: 32] = (idx < MAX_RD_DW) ? cpl_buf[idx % MAX_RD_DW] : 32'd0;
        end
    end

    // ------------------------------------------------------------------ tx_req (device's own requests)
    logic [10:0] up_beat, up_beats;
    logic [31:0] up_buf [MAX_UP_DW];
    logic [127:0] up_hdr;
    logic [31:0] up_prfx;
    logic        up_prfx_valid, up_is_read;
    logic [4:0]  up_len;

    wire [4:0] up_len_req = (up_ctrl[4:0] == 5'd0) ? 5'd1 : (up_ctrl[4:0] > 5'(MAX_UP_DW)) ? 5'(MAX_UP_DW)
                                                                                            : up_ctrl[4:0];
    wire       up_rd_req  = up_ctrl[8];
    wire [2:0] up_fmt     = {1'b0, !up_rd_req, up_addr_hi != 32'd0};
    wire [31:0] up_dw0    = {up_fmt, 5'd0, 14'd0, 5'd0, up_len_req};
    wire [31:0] up_dw1    = {cfg_bdf, up_ctrl[23:16], (up_len_req == 5'd1) ? 4'h0 : 4'hF, 4'hF};
    wire [127:0] up_hdr_req = up_fmt[0] ? {up_dw0, up_dw1, up_addr_hi, up_addr_lo[31:2], 2'b00}
                                        : {up_dw0, up_dw1, up_addr_lo[31:2], 2'b00, 32'd0};

    assign tx_req_valid      = up_valid;
    assign tx_req_sop        = up_beat == 11'd0;
    assign tx_req_eop        = up_beat == up_beats - 11'd1;
    assign tx_req_hdr        = up_hdr;
    assign tx_req_prfx_valid = up_prfx_valid;
    assign tx_req_prfx       = up_prfx;
    always_comb begin
        for (int j = 0; j < DPB; j++) begin
            int idx;
            idx = int'(up_beat) * DPB + j;
            tx_req_data[32*j +: 32] = (!up_is_read && idx < int'(up_len)) ? up_buf[idx % MAX_UP_DW] : 32'd0;
        end
    end

    // ------------------------------------------------------------------ rx_cpl (completions for our MRd)
    assign rx_cpl_ready = !bp_rx_cpl;
    wire        cc_fire   = rx_cpl_valid && rx_cpl_ready;
    wire        cc_data   = rx_cpl_hdr[126];
    wire [10:0] cc_len    = (rx_cpl_hdr[105:96] == 10'd0) ? 11'd1024 : {1'b0, rx_cpl_hdr[105:96]};
    wire [2:0]  cc_status = rx_cpl_hdr[79:77];
    wire [11:0] cc_bc     = rx_cpl_hdr[75:64];
    wire [6:0]  cc_la     = rx_cpl_hdr[38:32];
    wire [4:0]  cc_rel_dw = 5'((cc_la - up_addr_lo[6:0]) >> 2);
    wire        cc_final  = cc_status != ST_SC || !cc_data || cc_bc == 12'd0 ||
                            {1'b0, cc_bc} <= {cc_len, 2'b00} - {11'd0, cc_la[1:0]};
    logic [10:0] cc_beat;

    // ------------------------------------------------------------------ state
    always_ff @(posedge clk) begin
        for (int j = 0; j < DPB; j++) begin
            for (int b = 0; b < 4; b++) begin
                if (rq_wr_be[j][b]) ram[rq_wr_addr[j]][8*b +: 8] <= rx_req_data[32*j + 8*b +: 8];
            end
            if (cc_fire && cc_data && int'(cc_beat) * DPB + j < int'(cc_len))
                ram[8'(int'(RAM_UP_RD) + int'(cc_rel_dw) + int'(cc_beat) * DPB + j)] <= rx_cpl_data[32*j +: 32];
        end

        bme_q <= !rst && cfg_bus_master_en;
        if (rst || flr) begin
            rq_beat         <= '0;
            rq_dmwr_store_q <= 1'b0;
            cpl_pending     <= 1'b0;
            cpl_beat        <= '0;
            cpl_stalled     <= 1'b0;
            up_addr_lo      <= '0;
            up_addr_hi      <= '0;
            up_pasid        <= '0;
            up_ctrl         <= '0;
            up_busy         <= 1'b0;
            up_valid        <= 1'b0;
            up_beat         <= '0;
            err_bme         <= 1'b0;
            dmwr_count      <= '0;
            rxcpl_count     <= '0;
            ur_count        <= '0;
            dmwr_info       <= '0;
            last_cpl_status <= '0;
            cc_beat         <= '0;
            flr_count       <= rst ? 16'd0 : flr_count + 16'd1;
        end else begin
            // rx_req
            if (rq_fire) begin
                if (rx_req_sop) rq_dmwr_store_q <= rq_dmwr_ok && !dmwr_full;
                rq_beat <= rx_req_eop ? 11'd0 : rq_beat + 11'd1;
                if (rx_req_sop && rq_is_mwr && rq_bar0 && rq_in_regs) begin
                    case (int'(rq_reg_idx))
                        REG_UP_ADDR_LO: up_addr_lo <= rx_req_data[31:0];
                        REG_UP_ADDR_HI: up_addr_hi <= rx_req_data[31:0];
                        REG_UP_PASID:   up_pasid   <= rx_req_data[31:0];
                        REG_UP_CTRL:    up_ctrl    <= rx_req_data[31:0];
                        REG_UP_GO: begin
                            if (!bme_q) begin
                                err_bme <= 1'b1;
                            end else if (!up_busy) begin
                                up_busy       <= 1'b1;
                                up_valid      <= 1'b1;
                                up_beat       <= '0;
                                up_is_read    <= up_rd_req;
                                up_len        <= up_len_req;
                                up_beats      <= up_rd_req ? 11'd1 : 11'((int'(up_len_req) + DPB - 1) / DPB);
                                up_hdr        <= up_hdr_req;
                                up_prfx_valid <= up_pasid[31];
                                up_prfx       <= {8'h91, up_pasid[30], up_pasid[29], 2'b00, up_pasid[19:0]};
                                for (int i = 0; i < MAX_UP_DW; i++) up_buf[i] <= ram[8'(i)];
                            end
                        end
                        default: ;
                    endcase
                end
                if (rx_req_eop && rq_is_dmwr && rq_dmwr_store) begin
                    dmwr_count <= dmwr_count + 16'd1;
                    dmwr_info  <= {9'd0, rx_req_prfx[22], rx_req_prfx[23], rx_req_prfx_valid, rx_req_prfx[19:0]};
                end
                if (rx_req_eop && rq_np) begin
                    cpl_pending <= 1'b1;
                    cpl_beat    <= '0;
                    cpl_status  <= nc_status;
                    cpl_data    <= nc_data;
                    cpl_len     <= rq_len[9:0];   // Length 1024 is encoded as 0
                    cpl_beats   <= nc_data ? 11'((int'(rq_len) + DPB - 1) / DPB) : 11'd1;
                    cpl_bc      <= nc_bc;
                    cpl_la      <= nc_la;
                    cpl_tag     <= rq_tag;
                    cpl_tc      <= rq_tc;
                    cpl_attr    <= rq_attr;
                    cpl_rid     <= rq_rid;
                    cpl_cid     <= cfg_bdf;
                    cpl_buf     <= nc_buf;
                    if (nc_status == ST_UR) ur_count <= ur_count + 16'd1;
                end
            end

            // tx_cpl
            cpl_stalled <= tx_cpl_valid && !tx_cpl_ready;
            if (tx_cpl_valid && tx_cpl_ready) begin
                if (tx_cpl_eop) cpl_pending <= 1'b0;
                else            cpl_beat <= cpl_beat + 11'd1;
            end

            // tx_req
            if (tx_req_valid && tx_req_ready) begin
                if (tx_req_eop) begin
                    up_valid <= 1'b0;
                    if (!up_is_read) up_busy <= 1'b0;
                end else begin
                    up_beat <= up_beat + 11'd1;
                end
            end

            // rx_cpl
            if (cc_fire) begin
                cc_beat <= rx_cpl_eop ? 11'd0 : cc_beat + 11'd1;
                if (rx_cpl_eop) begin
                    rxcpl_count     <= rxcpl_count + 16'd1;
                    last_cpl_status <= cc_status;
                    if (cc_final) up_busy <= 1'b0;
                end
            end
        end
    end

    // Header fields the loopback does not act on (LN/TH/TD/EP/AT/PH, tags of completions, ...).
    wire unused_inputs = ^{rx_req_hdr[113:110], rx_req_hdr[107:106], rx_req_hdr[1:0], rx_req_prfx[31:24],
                           rx_req_prfx[21:20], rx_cpl_sop, rx_cpl_hdr[127], rx_cpl_hdr[125:106],
                           rx_cpl_hdr[95:80], rx_cpl_hdr[76], rx_cpl_hdr[63:39], rx_cpl_hdr[31:0],
                           rx_cpl_prfx_valid, rx_cpl_prfx, rq_addr[63:19], up_ctrl[31:24], up_ctrl[15:9],
                           up_ctrl[7:5], up_pasid[28:20]};
endmodule

`default_nettype wire
