"""QR codes as SVG data URIs (no inline markup for the CSP to refuse): the authenticator
enrolment and the posters' way to the client page."""

import base64
from io import BytesIO

import qrcode
import qrcode.image.svg


def qr_svg_data_uri(text: str, *, box_size: int = 8) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size)
    buffer = BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
