from django.urls import path

from chat import consumers

websocket_urlpatterns = [
    path("ws/client/", consumers.ClientConsumer.as_asgi()),
    path("ws/console/", consumers.ConsoleConsumer.as_asgi()),
    path("ws/dashboard/", consumers.DashboardConsumer.as_asgi()),
    path("ws/interpreter/", consumers.InterpreterConsumer.as_asgi()),
]
