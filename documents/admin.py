"""The Django admin: documents, sharing, versions, API and document tokens, and who is connected
now.

Every admin change that takes access away also ends the live sessions it concerns, through
documents.server.live_rooms (on every server process): removing a member closes their sockets
with 4403, deleting a document closes its sockets with 4404.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Sum
from django.db.models.functions import Length
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from documents import versions
from documents.models import (
    ApiToken,
    Document,
    DocumentSnapshot,
    DocumentToken,
    DocumentUpdate,
    DocumentVersion,
    LiveConnection,
    Membership,
)
from documents.richtext import prosemirror
from documents.server import live_connections, live_rooms
from documents.sync.closecodes import CloseCode
from documents.sync.revocation import Revocation


def end_sessions_of(memberships) -> None:
    for document_id, user_id in memberships:
        live_rooms.close_connections(str(document_id), user_id=user_id, code=CloseCode.FORBIDDEN)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class VersionInline(admin.TabularInline):
    model = DocumentVersion
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["name", "author", "automatic", "created_at", "preview"]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "update_rows", "version_count", "updated_at", "created_at"]
    list_filter = ["owner"]
    search_fields = ["title", "id", "owner__username"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["id", "created_at", "updated_at", "stored_size", "content_preview"]
    fields = ["id", "title", "owner", "created_at", "updated_at", "stored_size", "content_preview"]
    inlines = [MembershipInline, VersionInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(
                _update_rows=Count("updates", distinct=True),
                _versions=Count("versions", distinct=True),
            )
        )

    @admin.display(description="update rows", ordering="_update_rows")
    def update_rows(self, document):
        return document._update_rows

    @admin.display(description="versions", ordering="_versions")
    def version_count(self, document):
        return document._versions

    @admin.display(description="stored size")
    def stored_size(self, document):
        log = DocumentUpdate.objects.filter(document=document).aggregate(
            rows=Count("id"), size=Sum(Length("data"))
        )
        snapshot = DocumentSnapshot.objects.filter(document=document).aggregate(
            size=Sum(Length("data"))
        )
        total = (log["size"] or 0) + (snapshot["size"] or 0)
        return f"{total:,} bytes ({log['rows']} update rows since the last snapshot)"

    @admin.display(description="content")
    def content_preview(self, document):
        if document.pk is None:
            return "-"
        state = live_rooms.document_state(str(document.pk))
        html = prosemirror.to_html(prosemirror.to_prosemirror(prosemirror.fragment_of(state)))
        # prosemirror.to_html escapes all text and attributes: safe to embed.
        return format_html(
            '<div class="collab-preview">{}</div>', mark_safe(html or "<p><em>empty</em></p>")
        )

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Membership:
            end_sessions_of((m.document_id, m.user_id) for m in formset.deleted_objects)

    def delete_model(self, request, obj):
        document_id = str(obj.pk)
        super().delete_model(request, obj)
        live_rooms.close_connections(document_id, code=CloseCode.NOT_FOUND)

    def delete_queryset(self, request, queryset):
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        super().delete_queryset(request, queryset)
        for document_id in ids:
            live_rooms.close_connections(document_id, code=CloseCode.NOT_FOUND)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["document", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["document__title", "user__username"]
    autocomplete_fields = ["document", "user"]

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        end_sessions_of([(obj.document_id, obj.user_id)])

    def delete_queryset(self, request, queryset):
        pairs = list(queryset.values_list("document_id", "user_id"))
        super().delete_queryset(request, queryset)
        end_sessions_of(pairs)


@admin.register(DocumentVersion)
class DocumentVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "document", "author", "automatic", "created_at", "preview"]
    list_filter = ["automatic", "document__owner"]
    search_fields = ["name", "document__title", "document__id", "preview"]
    list_select_related = ["document", "author"]
    fields = ["document", "name", "author", "automatic", "created_at", "preview"]
    readonly_fields = ["document", "author", "automatic", "created_at", "preview"]
    actions = ["restore"]

    def has_add_permission(self, request):
        return False  # versions are taken from the live document (API, or automatically)

    def has_restore_permission(self, request):
        """Restoring rewrites the live document: whoever may change documents may restore."""
        return request.user.has_perm("documents.change_document")

    @admin.action(
        description="Restore the selected version (as a new change, for everyone)",
        permissions=["restore"],
    )
    def restore(self, request, queryset):
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, "Select exactly one version to restore.", messages.ERROR)
            return
        version = chosen[0]
        changed = versions.restore_version(version)
        note = "" if changed else " (it was already equal to it)"
        self.message_user(request, f"“{version.document}” now shows “{version}”{note}.")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["hint", "user", "name", "created_at", "last_used_at"]
    search_fields = ["user__username", "name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["hint", "created_at", "last_used_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "hint", "created_at", "last_used_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else ["user", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        row, token = ApiToken.issue(obj.user, name=obj.name)
        obj.pk, obj.key_hash, obj.hint = row.pk, row.key_hash, row.hint
        obj.created_at = row.created_at
        self.message_user(
            request,
            f"New token for {row.user}: {token} (copy it now: it is not shown again).",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        count = queryset.count()
        queryset.delete()
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(DocumentToken)
class DocumentTokenAdmin(admin.ModelAdmin):
    """Document tokens, minted by owners through the API (docs/embedding.md); revoking one
    (deleting it) closes the connections opened with it, on every process."""

    list_display = ["label", "hint", "document", "role", "expires_at", "created_by", "created_at"]
    list_filter = ["role"]
    search_fields = ["label", "document__title", "document__id", "created_by__username"]
    list_select_related = ["document", "created_by"]
    fields = ["document", "label", "role", "hint", "created_by", "created_at", "expires_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # minted through the API, which shows the token once

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        count = 0
        for token in queryset:  # one by one: each closes its connections (post_delete)
            token.delete()
            count += 1
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(LiveConnection)
class LiveConnectionAdmin(admin.ModelAdmin):
    """Connected now: the sockets open on every server process (rows they renew). A connection
    opened with a document token shows the token's label; one opened with a JWT, its `sub`."""

    list_display = ["who", "via", "document", "role", "process_id", "address", "connected_at"]
    list_filter = ["role", "process_id"]
    search_fields = ["user__username", "label", "document__title", "document__id", "address"]
    list_select_related = ["user", "document"]
    actions = ["disconnect"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(pk__in=live_connections.live_rows().values("pk"))
        )

    @admin.display(description="user", ordering="user__username")
    def who(self, row):
        return row.user.get_username() if row.user is not None else row.label or "-"

    @admin.display(description="signed in with")
    def via(self, row):
        if row.user is not None:
            return "account"
        return "JWT" if row.credential.startswith("jwt:") else "document token"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(
        description="Disconnect (close with 4403; they may reconnect if still members)",
        permissions=["delete"],
    )
    def disconnect(self, request, queryset):
        rows = set(queryset.values_list("document_id", "user_id", "credential"))
        end_sessions_of((document, user) for document, user, _ in rows if user is not None)
        for document_id, user_id, credential in rows:
            if user_id is None:  # a document token or JWT: its own connections, not everyone's
                live_rooms.revoke(
                    Revocation(CloseCode.FORBIDDEN, room=str(document_id), token_id=credential)
                )
        self.message_user(request, f"Closed the connections of {len(rows)} user/document pair(s).")
