"""Chat page URLs, mounted under /chat/. Thread ids (`19:...@thread.v2`) fit a path segment."""

from django.urls import path

from chat.views import attachments, messages, participants, staff, threads

app_name = "chat"

urlpatterns = [
    path("", threads.thread_list, name="threads"),
    path("new/", threads.thread_create, name="new"),
    path("staff/", staff.staff_threads, name="staff_threads"),
    path("staff/<int:pk>/topic/", staff.staff_topic, name="staff_topic"),
    path("staff/<int:pk>/remove/", staff.staff_remove, name="staff_remove"),
    path("staff/<int:pk>/delete/", staff.staff_delete, name="staff_delete"),
    path("t/<str:thread_id>/", threads.thread_detail, name="thread"),
    path("t/<str:thread_id>/topic/", threads.thread_topic, name="topic"),
    path("t/<str:thread_id>/delete/", threads.thread_delete, name="delete"),
    path("t/<str:thread_id>/people/", participants.participant_list, name="participants"),
    path("t/<str:thread_id>/people/remove/", participants.participant_remove, name="remove"),
    path("t/<str:thread_id>/leave/", participants.thread_leave, name="leave"),
    path("t/<str:thread_id>/m/<str:message_id>/", messages.message_permalink, name="message"),
    path("t/<str:thread_id>/m/<str:message_id>/edit/", messages.message_edit, name="edit"),
    path("t/<str:thread_id>/m/<str:message_id>/react/", messages.message_react, name="react"),
    path(
        "t/<str:thread_id>/m/<str:message_id>/delete/",
        messages.message_delete,
        name="delete_message",
    ),
    # Files and images in messages (chat.views.attachments).
    path("t/<str:thread_id>/attachments/", attachments.attachment_upload, name="attachments"),
    path(
        "t/<str:thread_id>/attachments/<uuid:attachment_id>/",
        attachments.attachment_download,
        name="attachment",
    ),
    path(
        "t/<str:thread_id>/attachments/<uuid:attachment_id>/thumbnail/",
        attachments.attachment_thumbnail,
        name="attachment_thumbnail",
    ),
]
