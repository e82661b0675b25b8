// TLP header field positions and codes for the device's TLP streams (docs/tlp_interface.md): the 128-bit
// `hdr` holds header byte 0 in bits [127:120], so DW n of the header is hdr[127-32n -: 32].
`default_nettype none

package imsdev_tlp_pkg;
    // Fmt/Type byte (header byte 0)
    localparam logic [7:0] FT_MRD32  = 8'h00;
    localparam logic [7:0] FT_MRD64  = 8'h20;
    localparam logic [7:0] FT_MWR32  = 8'h40;
    localparam logic [7:0] FT_MWR64  = 8'h60;
    localparam logic [7:0] FT_DMWR32 = 8'h5B;
    localparam logic [7:0] FT_DMWR64 = 8'h7B;
    localparam logic [7:0] FT_CPL    = 8'h0A;
    localparam logic [7:0] FT_CPLD   = 8'h4A;

    // Completion status
    localparam logic [2:0] CPL_SC  = 3'b000;
    localparam logic [2:0] CPL_UR  = 3'b001;
    localparam logic [2:0] CPL_RRS = 3'b010;   // Request Retry Status (was CRS)
    localparam logic [2:0] CPL_CA  = 3'b100;

    localparam logic [7:0] PASID_PREFIX_BYTE0 = 8'h91;

    function automatic logic [7:0]  hdr_fmt_type(input logic [127:0] h); return h[127:120]; endfunction
    // a memory write (MWr, 3DW or 4DW): the only posted requests the device sends
    function automatic logic        hdr_is_mwr(input logic [127:0] h);
        return h[127:120] == FT_MWR32 || h[127:120] == FT_MWR64;
    endfunction
    function automatic logic        hdr_has_data(input logic [127:0] h); return h[126];      endfunction
    function automatic logic        hdr_is_4dw(input logic [127:0] h);   return h[125];      endfunction
    function automatic logic [2:0]  hdr_tc(input logic [127:0] h);       return h[118:116];  endfunction
    function automatic logic [2:0]  hdr_attr(input logic [127:0] h);     return {h[114], h[109:108]}; endfunction
    function automatic logic        hdr_poisoned(input logic [127:0] h); return h[110];      endfunction
    function automatic logic [9:0]  hdr_length(input logic [127:0] h);   return h[105:96];   endfunction
    function automatic logic [15:0] hdr_req_id(input logic [127:0] h);   return h[95:80];    endfunction
    function automatic logic [7:0]  hdr_tag(input logic [127:0] h);      return h[79:72];    endfunction
    function automatic logic [3:0]  hdr_last_be(input logic [127:0] h);  return h[71:68];    endfunction
    function automatic logic [3:0]  hdr_first_be(input logic [127:0] h); return h[67:64];    endfunction
    function automatic logic [63:0] hdr_addr(input logic [127:0] h);
        return h[125] ? {h[63:32], h[31:2], 2'b00} : {32'd0, h[63:34], 2'b00};
    endfunction
    // Address bits [31:0] (what a completer of a small BAR needs).
    function automatic logic [31:0] hdr_addr_lo(input logic [127:0] h);
        return h[125] ? {h[31:2], 2'b00} : {h[63:34], 2'b00};
    endfunction

    // Memory write request header (3DW below 4 GiB, 4DW above), one to 1023 DWs.
    function automatic logic [127:0] mwr_hdr(input logic [63:0] addr, input logic [9:0] len_dw,
                                             input logic [15:0] req_id, input logic [7:0] tag,
                                             input logic [3:0] first_be, input logic [3:0] last_be);
        logic [127:0] h = '0;
        h[105:96] = len_dw;
        h[95:80]  = req_id;
        h[79:72]  = tag;
        h[71:68]  = last_be;
        h[67:64]  = first_be;
        if (addr[63:32] != 32'd0) begin
            h[127:120] = FT_MWR64;
            h[63:32]   = addr[63:32];
            h[31:2]    = addr[31:2];
        end else begin
            h[127:120] = FT_MWR32;
            h[63:34]   = addr[31:2];
        end
        return h;
    endfunction

    // Memory read request header (3DW below 4 GiB, 4DW above), one to 1024 DWs (1024 encodes as 0).
    function automatic logic [127:0] mrd_hdr(input logic [63:0] addr, input logic [9:0] len_dw,
                                             input logic [15:0] req_id, input logic [7:0] tag,
                                             input logic [3:0] first_be, input logic [3:0] last_be);
        logic [127:0] h = '0;
        h[105:96] = len_dw;
        h[95:80]  = req_id;
        h[79:72]  = tag;
        h[71:68]  = last_be;
        h[67:64]  = first_be;
        if (addr[63:32] != 32'd0) begin
            h[127:120] = FT_MRD64;
            h[63:32]   = addr[63:32];
            h[31:2]    = addr[31:2];
        end else begin
            h[127:120] = FT_MRD32;
            h[63:34]   = addr[31:2];
        end
        return h;
    endfunction

    // PASID TLP prefix DW (E2E type 0001, platform-facts §3): PMR = privileged, ER = execute requested.
    function automatic logic [31:0] pasid_prfx(input logic pmr, input logic er, input logic [19:0] pasid);
        return {PASID_PREFIX_BYTE0, pmr, er, 2'b00, pasid};
    endfunction

    // A memory request covering nbytes (1..4096) bytes from an address whose low two bits are a_lo:
    // number of payload DWs, and the First/Last DW byte enables (Last BE is 0 for a one-DW request).
    function automatic logic [10:0] req_dw_count(input logic [1:0] a_lo, input logic [12:0] nbytes);
        return 11'((14'(a_lo) + 14'(nbytes) + 14'd3) >> 2);
    endfunction
    function automatic logic [3:0] req_first_be(input logic [1:0] a_lo, input logic [12:0] nbytes);
        logic [13:0] end_off = 14'(a_lo) + 14'(nbytes);    // one past the last byte, from the first DW
        if (end_off >= 14'd4) return 4'hF << a_lo;
        return (4'hF << a_lo) & ~(4'hF << end_off[1:0]);
    endfunction
    function automatic logic [3:0] req_last_be(input logic [1:0] a_lo, input logic [12:0] nbytes);
        logic [13:0] end_off = 14'(a_lo) + 14'(nbytes);
        if (end_off <= 14'd4) return 4'h0;
        return (end_off[1:0] == 2'd0) ? 4'hF : ~(4'hF << end_off[1:0]);
    endfunction

    // Completion header fields (DW1: completer ID, status, BCM, byte count; DW2: requester ID, tag,
    // lower address). A Byte Count of 0 means 4096.
    function automatic logic [2:0]  cpl_status(input logic [127:0] h);     return h[79:77];   endfunction
    function automatic logic [11:0] cpl_byte_count(input logic [127:0] h); return h[75:64];   endfunction
    function automatic logic [15:0] cpl_req_id(input logic [127:0] h);     return h[63:48];   endfunction
    function automatic logic [7:0]  cpl_tag(input logic [127:0] h);        return h[47:40];   endfunction
    function automatic logic [6:0]  cpl_lower_addr(input logic [127:0] h); return h[38:32];   endfunction

    // Completion header. with_data selects CplD.
    function automatic logic [127:0] cpl_hdr(input logic with_data, input logic [2:0] status,
                                             input logic [15:0] cpl_id, input logic [15:0] req_id,
                                             input logic [7:0] tag, input logic [2:0] tc, input logic [2:0] attr,
                                             input logic [9:0] len_dw, input logic [11:0] byte_count,
                                             input logic [6:0] lower_addr);
        logic [127:0] h = '0;
        h[127:120] = with_data ? FT_CPLD : FT_CPL;
        h[118:116] = tc;
        h[114]     = attr[2];
        h[109:108] = attr[1:0];
        h[105:96]  = with_data ? len_dw : 10'd0;
        h[95:80]   = cpl_id;
        h[79:77]   = status;
        h[75:64]   = byte_count;
        h[63:48]   = req_id;
        h[47:40]   = tag;
        h[38:32]   = lower_addr;
        return h;
    endfunction

    // Index of the first enabled byte of a byte-enable nibble (0 when none is enabled).
    function automatic logic [1:0] be_first(input logic [3:0] be);
        if (be[0]) return 2'd0;
        if (be[1]) return 2'd1;
        if (be[2]) return 2'd2;
        if (be[3]) return 2'd3;
        return 2'd0;
    endfunction

    // Index of the last enabled byte of a byte-enable nibble (3 when none is enabled).
    function automatic logic [1:0] be_last(input logic [3:0] be);
        if (be[3]) return 2'd3;
        if (be[2]) return 2'd2;
        if (be[1]) return 2'd1;
        if (be[0]) return 2'd0;
        return 2'd3;
    endfunction

    // Byte Count of a read completion that returns a whole request (PCIe §2.3.1.1).
    function automatic logic [11:0] read_byte_count(input logic [9:0] len_dw, input logic [3:0] first_be,
                                                    input logic [3:0] last_be);
        if (len_dw == 10'd1) begin
            if (first_be == 4'h0) return 12'd1;
            return 12'(be_last(first_be)) - 12'(be_first(first_be)) + 12'd1;
        end
        return (12'(len_dw) << 2) - 12'(be_first(first_be)) - (12'd3 - 12'(be_last(last_be)));
    endfunction
endpackage

`default_nettype wire
