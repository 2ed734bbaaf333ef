"""Browser pages (documents list, editor, sign-in)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from documents import pages

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", pages.documents_list, name="documents"),
    path("d/<uuid:document_id>", pages.editor, name="editor"),
    path("d/<uuid:document_id>/", pages.editor),
]
