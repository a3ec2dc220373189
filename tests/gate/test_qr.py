"""QR images of ticket codes: a crisp ~300 px PNG, or an SVG."""
import struct
import zlib
from xml.etree import ElementTree

import pytest
import segno

from server.codes.qr import FORMATS, qr_image

pytestmark = pytest.mark.own_app

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A realistic code: 16-char kid, ticket 1234567, event 98765, 16-hex nonce (204 characters).
CODE = ("eyJhbGciOiJFZERTQSIsImtpZCI6ImgzSk5BbEZkY1pJOVlIZXIifQ."
        "eyJ0IjoxMjM0NTY3LCJlIjo5ODc2NSwibiI6IjAxMjM0NTY3ODlhYmNkZWYifQ."
        "KPgMmchhMyq-e38XLthObph8WOrgxIPGL1ir500NDAXTDqwdMkdSbQ8J0PcJgfZPyt2ir8uFjsDWzt7MYM0RAA")


def png_chunks(data: bytes):
    offset = len(PNG_SIGNATURE)
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[offset + 8 + length:][:4])[0]
        yield kind, body
        offset += 12 + length


def decode_png(data: bytes) -> list[list[bool]]:
    """The pixels of a 1-bit greyscale PNG (filters None and Up), True where dark."""
    chunks = list(png_chunks(data))
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    assert (depth, colour, interlace) == (1, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = (width + 7) // 8
    assert len(raw) == height * (stride + 1)
    rows, previous = [], bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        assert line[0] in (0, 2)
        row = bytes(line[1:]) if line[0] == 0 else bytes(
            (a + b) & 0xFF for a, b in zip(line[1:], previous))
        rows.append([not row[x // 8] >> (7 - x % 8) & 1 for x in range(width)])
        previous = row
    return rows


def test_formats_name_their_mimetypes():
    assert FORMATS == {"png": "image/png", "svg": "image/svg+xml"}


def test_the_png_is_a_crisp_image_of_about_300_pixels():
    data, mimetype = qr_image(CODE, "png")
    assert mimetype == "image/png" and data.startswith(PNG_SIGNATURE)
    pixels = decode_png(data)
    qr = segno.make(CODE, error="m", micro=False)
    modules = len(qr.matrix) + 2 * 4                       # border of 4 modules
    scale = len(pixels) // modules
    assert len(pixels) == len(pixels[0]) == modules * scale
    assert 250 <= len(pixels) <= 350
    print(f"\nQR {qr.version}-{qr.error}: {modules} modules x {scale} px = {len(pixels)} px")


def test_the_png_draws_the_qr_symbol_with_its_quiet_zone():
    pixels = decode_png(qr_image(CODE)[0])
    matrix = segno.make(CODE, error="m", micro=False).matrix
    scale = len(pixels) // (len(matrix) + 8)
    centre = lambda i: (i + 4) * scale + scale // 2          # noqa: E731
    drawn = [[pixels[centre(y)][centre(x)] for x in range(len(matrix))] for y in range(len(matrix))]
    assert drawn == [[bool(module) for module in row] for row in matrix]
    quiet = pixels[:4 * scale] + pixels[-4 * scale:] + [row[:4 * scale] for row in pixels]
    assert not any(any(row) for row in quiet)


def test_a_realistic_code_fits_a_version_10_symbol_at_level_m_or_better():
    qr = segno.make(CODE, error="m", micro=False)
    assert qr.version <= 10 and qr.error in ("M", "Q", "H")


def test_a_short_code_still_gives_about_300_pixels():
    pixels = decode_png(qr_image("eyJ.x.y")[0])
    assert 250 <= len(pixels) <= 350


def test_the_svg_is_xml_with_an_svg_root():
    data, mimetype = qr_image(CODE, "svg")
    assert mimetype == "image/svg+xml"
    root = ElementTree.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert 250 <= float(root.get("width")) <= 350 and root.get("width") == root.get("height")


def test_images_are_kept_for_the_next_view():
    assert qr_image(CODE, "png") is qr_image(CODE, "png")


@pytest.mark.parametrize("fmt", ["jpg", "PNG", "", "eps"])
def test_other_formats_are_refused(fmt):
    with pytest.raises(ValueError, match="png, svg"):
        qr_image(CODE, fmt)
