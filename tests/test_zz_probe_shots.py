import io
import pytest
from django.core.management import call_command
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]
def test_shots(phone_page, page, live_server):
    call_command("load_demo", stdout=io.StringIO())
    for tab, name in ((phone_page, "phone"),):
        for aud in ("patient", "clinician"):
            tab.goto(f"{live_server.url}/articles/continue-dupilumab-despite-persistent-cough/{aud}/")
            h = tab.evaluate("document.documentElement.scrollHeight")
            for i, y in enumerate(range(0, h, 800)):
                tab.screenshot(path=f"/tmp/crops/{aud}-{name}-{i}.png", clip={"x": 0, "y": y, "width": 390, "height": 800}, full_page=True)
    tab = page
    tab.goto(f"{live_server.url}/articles/continue-dupilumab-despite-persistent-cough/clinician/")
    tab.screenshot(path="/tmp/crops/clin-desk-top.png", clip={"x": 0, "y": 0, "width": 1280, "height": 1000}, full_page=True)
    tab.goto(f"{live_server.url}/articles/why-asthma-returns-after-biologics/patient/")
    h = tab.evaluate("document.documentElement.scrollHeight")
    tab.screenshot(path="/tmp/crops/news-desk-bottom.png", clip={"x": 0, "y": h-1100, "width": 1280, "height": 1100}, full_page=True)
    tab.emulate_media(media="print")
    tab.pdf(path="/tmp/crops/print.pdf") if False else None
    tab.screenshot(path="/tmp/crops/print-qa.png", full_page=True)
