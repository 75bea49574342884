"""Test files, made rather than downloaded: wav by the stdlib, PDFs by fpdf2, spreadsheets by
xlsxwriter, Word documents by python-docx, compressed audio and video by PyAV."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = int(seconds * rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                for i in range(frames)
            )
        )
    return buf.getvalue()


def pdf_bytes(pages: int = 2) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for i in range(pages):
        pdf.add_page()
        pdf.cell(text=f"Page {i + 1} of the report.")
    return bytes(pdf.output())


def csv_bytes(rows: int = 10) -> bytes:
    lines = ["name,value"] + [f"row{i},{i * 1.5}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def xlsx_bytes(rows: int = 5) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["name", "value"])
    for i in range(rows):
        ws.write_row(i + 1, 0, [f"row{i}", i])
    wb.close()
    return buf.getvalue()


def docx_bytes(paragraphs: int = 3) -> bytes:
    import docx

    d = docx.Document()
    for i in range(paragraphs):
        d.add_paragraph(f"Paragraph {i} " + "words " * 50)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def encoded_media(
    path: Path, container: str, codec: str, seconds: float = 1.0, video: bool = False
) -> bytes:
    """Audio (and optionally video) encoded by PyAV's bundled FFmpeg."""
    import av
    import numpy as np

    rate = 48000 if codec in ("libopus", "opus") else 44100
    with av.open(str(path), "w", format=container) as out:
        if video:
            vs = out.add_stream("mpeg4" if container != "webm" else "libvpx", rate=10)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream(codec, rate=rate)
        a.layout = "mono"
        samples = int(seconds * rate)
        t = np.arange(samples) / rate
        pcm = (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        if video:
            for i in range(int(seconds * 10)):
                img = np.zeros((48, 64, 3), dtype="uint8")
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts = i
                for p in vs.encode(vf):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
        for p in a.encode(frame):
            out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path.read_bytes()
