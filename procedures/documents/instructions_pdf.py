"""The instruction sheet as a PDF (ReportLab: pure Python, nothing to install on the server). It renders
the same InstructionSheet data as the printable page. Large type: many readers are older."""

from io import BytesIO
from xml.sax.saxutils import escape

from django.utils.formats import date_format
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import (
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from procedures.selectors.instructions import InstructionSheet

_base = getSampleStyleSheet()
BODY = ParagraphStyle(
    "body", parent=_base["BodyText"], fontName="Helvetica", fontSize=12.5, leading=17, alignment=TA_LEFT
)
H1 = ParagraphStyle(
    "h1", parent=_base["Heading1"], fontName="Helvetica-Bold", fontSize=20, leading=24, spaceAfter=6
)
H2 = ParagraphStyle(
    "h2",
    parent=_base["Heading2"],
    fontName="Helvetica-Bold",
    fontSize=15,
    leading=19,
    spaceBefore=12,
    spaceAfter=4,
)
BOX = ParagraphStyle("box", parent=BODY, backColor=colors.HexColor("#fff3cd"), borderPadding=6)


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text), style)


def _bullets(items: list[str]) -> ListFlowable:
    return ListFlowable([ListItem(_p(item), leftIndent=14) for item in items], bulletType="bullet", start="•")


def instructions_pdf(sheet: InstructionSheet) -> bytes:
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=0.8 * inch,
        rightMargin=0.8 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.7 * inch,
        title=sheet.title,
        author=sheet.clinic_name,
    )
    when = date_format(sheet.start, "l j F Y, g:i A")
    story = [
        _p(sheet.title, H1),
        _p(f"{sheet.patient_name} — {sheet.procedure_name} with {sheet.physician_name}"),
        _p(f"When: {when}. Please arrive at {date_format(sheet.arrival, 'g:i A')}."),
        _p(f"Questions? Call {sheet.clinic_name}: {sheet.clinic_phone}"),
        Spacer(1, 6),
    ]
    if sheet.still_to_confirm:
        story += [_p("Still to confirm", H2), *[_p(text, BOX) for text in sheet.still_to_confirm]]
    if sheet.calendar:
        story.append(_p("Day by day", H2))
        rows = [
            [_p(day.label + (" — procedure day" if day.is_procedure_day else "")), _bullets(day.items)]
            for day in sheet.calendar
        ]
        table = Table(rows, colWidths=[1.9 * inch, 4.9 * inch])
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#adb5bd")),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f3f5")),
                ]
            )
        )
        story.append(table)
    story += [_p("Eating and drinking", H2), _bullets(sheet.fasting)]
    if sheet.escort:
        story += [_p("Getting home", H2), _bullets(sheet.escort)]
    if sheet.what_it_is:
        story += [_p("What this procedure is", H2), _p(sheet.what_it_is)]
    story += [_p("What will happen", H2), _bullets(sheet.what_happens)]
    story += [_p("What to bring", H2), _bullets(sheet.bring)]
    story += [_p("Afterwards", H2), _bullets(sheet.after)]
    if sheet.diabetes:
        story += [_p("Your blood sugar", H2), _p(sheet.diabetes, BOX)]
    story.append(_p("Common questions", H2))
    for question, answer in sheet.questions:
        story.append(
            KeepTogether(
                [_p(question, ParagraphStyle("q", parent=BODY, fontName="Helvetica-Bold")), _p(answer)]
            )
        )
    story += [
        _p("Call us straight away if you have", H2),
        _bullets(sheet.red_flags),
        _p(f"Call {sheet.clinic_name}: {sheet.clinic_phone}. {sheet.emergency}", BOX),
    ]
    doc.build(story)
    return buffer.getvalue()
