"""Django integration: add ``"p0f.django"`` to ``INSTALLED_APPS`` and
``"p0f.django.middleware.P0fMiddleware"`` to ``MIDDLEWARE``.

Then ``request.p0f`` is what p0f knows about the client (a
:class:`p0f.P0fResponse`), or ``None``, and ``request.p0f_lookup`` says
which address was looked up and why the answer is what it is.  Settings
are described in :mod:`p0f.django.conf`; the app adds system checks (``p0f.E001`` ...), the
:class:`~p0f.django.models.P0fRecord` model and its admin, and the
``p0f_prune`` management command that deletes old records.

Importing this package imports nothing from Django, so it is safe before
the app registry is ready.
"""
