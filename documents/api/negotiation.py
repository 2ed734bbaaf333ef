"""Content negotiation for endpoints that choose their own media type.

DRF reads `?format=` as a renderer override; `GET .../content?format=text` uses it for the
document's format instead, and answers errors as JSON.
"""

from rest_framework.negotiation import BaseContentNegotiation


class FirstRenderer(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
