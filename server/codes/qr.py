"""QR images of ticket codes, for a phone screen or a printed ticket."""
import functools
import io

import segno

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
TARGET_PIXELS = 300
BORDER = 4  # the quiet zone the QR standard asks for, in modules


# Choosing the best of the eight masks is most of the ~15 ms a symbol takes, and a holder opens
# the same ticket again and again: keep the latest images (about 1 kB each).
@functools.lru_cache(maxsize=256)
def qr_image(code: str, fmt: str = "png") -> tuple[bytes, str]:
    """The QR image of a code as (bytes, mimetype); `fmt` is a key of FORMATS."""
    if fmt not in FORMATS:
        raise ValueError(f"QR format must be one of {', '.join(FORMATS)}")
    # Error correction at least M; segno raises it for free when the symbol would not grow.
    qr = segno.make(code, error="m", micro=False)
    modules, _ = qr.symbol_size(scale=1, border=BORDER)
    # A whole number of pixels per module keeps the edges sharp; it lands near 300 px.
    scale = max(1, round(TARGET_PIXELS / modules))
    out = io.BytesIO()
    qr.save(out, kind=fmt, scale=scale, border=BORDER)
    return out.getvalue(), FORMATS[fmt]
