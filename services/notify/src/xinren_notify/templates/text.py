"""What a template is: four texts (title and body, Chinese and English) with the event's fields as placeholders."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import Audience

B, S, H, W = Audience.BUYER, Audience.SHOP, Audience.HOST, Audience.WAREHOUSE


@dataclass(frozen=True)
class Text:
    """The texts one audience reads about one event."""

    title_zh: str
    body_zh: str
    title_en: str
    body_en: str


class Template(Text):
    """Texts with placeholders: `render` fills them from the Chinese and the English context."""

    def render(self, zh: dict[str, str], en: dict[str, str]) -> Text:
        return Text(
            title_zh=self.title_zh.format_map(zh),
            body_zh=self.body_zh.format_map(zh),
            title_en=self.title_en.format_map(en),
            body_en=self.body_en.format_map(en),
        )


# "<event type>" or "<event type>[<field>=<value>]" -> the texts of each audience told of it.
Templates = dict[str, dict[Audience, Template]]
