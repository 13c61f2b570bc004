from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "ACS identities and tokens"

    def ready(self) -> None:
        from tokens import signals

        signals.connect()
