"""OpenAPI: declare knox tokens as the standard HTTP Bearer scheme.

drf-spectacular ships a knox extension named "knoxApiToken"; this one (higher
priority) names it "bearerAuth" and documents how to get a token. Imported by
customer_api.views so it is registered before any schema is generated.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class KnoxBearerScheme(OpenApiAuthenticationExtension):
    target_class = "knox.auth.TokenAuthentication"
    match_subclasses = True  # ours (customer_api.authentication) checks the header first
    name = "bearerAuth"
    priority = 1

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <token>`. Tokens come from "
            "`python manage.py api_token create <username>` (or the admin); they are stored hashed and expire.",
        }
