"""Human seconds of a labeling run: seconds = a * cards + b * clicks + c * pages.

A card is looked at and judged (a), a click flips a wrongly pre-labeled card (b), and a page
costs its "Confirm & Train" plus getting oriented on the next page (c). The constants are not
measured on people: they come from the keystroke-level model (Card, Moran & Newell, "The
keystroke-level model for user performance time with interactive systems", CACM 23(7), 1980:
point with the mouse P = 1.1 s, press a button B = 0.2 s, mentally prepare M = 1.35 s), and
the per-card judgment is an assumption. A second setting, where cards cost more and clicks
less (the keyboard's 1-9 toggles instead of the mouse), shows whether a ranking is an artefact
of one set of constants.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeModel:
    name: str
    card_s: float  # a: look at one card and judge it
    click_s: float  # b: flip one wrongly pre-labeled card
    page_s: float  # c: confirm the page and take in the next one
    source: str

    def seconds(self, cards: float, clicks: float, pages: float) -> float:
        """`clicks` are card flips only: the confirm click of each page is in `page_s`."""
        return self.card_s * cards + self.click_s * clicks + self.page_s * pages

    def formula(self) -> str:
        return f"{self.card_s:g} s × cards + {self.click_s:g} s × clicks + {self.page_s:g} s × pages"


MOUSE = TimeModel(
    "mouse", card_s=1.0, click_s=1.3, page_s=3.0,
    source="b = P + B = 1.1 + 0.2 s (KLM, point and click a card); c = M + P + B + 0.35 s = 3.0 s (KLM: "
           "prepare, point at Confirm & Train, click; plus the app's measured submit-to-next-page time); "
           "a = 1.0 s per card is an assumption (a glance and a yes/no judgment, below KLM's M = 1.35 s "
           "because a grid of like cards is one routine)")
KEYBOARD = TimeModel(
    "keyboard", card_s=2.0, click_s=0.3, page_s=1.7,
    source="b = K = 0.28 s, rounded (KLM, average non-secretary typist; the 1-9 keys toggle cards); "
           "c = M + K + 0.35 s = 1.7 s (Enter confirms); a = 2.0 s per card is an assumption (a "
           "deliberate judgment), chosen to make cards, not clicks, dominate")
TIME_MODELS: dict[str, TimeModel] = {m.name: m for m in (MOUSE, KEYBOARD)}
PRIMARY = MOUSE
