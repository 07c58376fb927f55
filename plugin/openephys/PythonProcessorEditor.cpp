#include "PythonProcessorEditor.h"

#include "PythonProcessor.h"

namespace {
constexpr int kEditorWidth = 360;
}

PythonProcessorEditor::PythonProcessorEditor(GenericProcessor* parentNode)
    : GenericEditor(parentNode), processor(static_cast<PythonProcessor*>(parentNode)) {
    desiredWidth = kEditorWidth;

    scriptButton = std::make_unique<UtilityButton>("Script...");
    reloadButton = std::make_unique<UtilityButton>("Reload");
    homeButton = std::make_unique<UtilityButton>("Home...");
    errorButton = std::make_unique<UtilityButton>("Error...");
    for (auto* button : {scriptButton.get(), reloadButton.get(), homeButton.get(), errorButton.get()}) {
        button->addListener(this);
        addAndMakeVisible(button);
    }
    scriptButton->setTooltip("Choose the Python file that defines class PyProcessor");
    reloadButton->setTooltip("Re-import the script; recovers a faulted script, also during acquisition");
    homeButton->setTooltip("Choose the Python environment (needs a GUI restart once Python runs)");
    errorButton->setTooltip("Show the last error with its full traceback");

    addComboBoxParameterEditor(Parameter::PROCESSOR_SCOPE, "error_policy", 200, 24);

    statusLabel = std::make_unique<Label>("status", "");
    statusLabel->setJustificationType(Justification::topLeft);
    statusLabel->setFont(FontOptions(11.0f));
    statusLabel->setMinimumHorizontalScale(0.6f);
    addAndMakeVisible(statusLabel.get());

    startTimer(500);
}

PythonProcessorEditor::~PythonProcessorEditor() {
    stopTimer();
}

void PythonProcessorEditor::resized() {
    GenericEditor::resized();
    scriptButton->setBounds(10, 30, 62, 20);
    reloadButton->setBounds(76, 30, 52, 20);
    homeButton->setBounds(132, 30, 56, 20);
    errorButton->setBounds(10, 100, 52, 18);
    statusLabel->setBounds(8, 54, kEditorWidth - 16, 46);
}

void PythonProcessorEditor::buttonClicked(Button* button) {
    if (button == scriptButton.get()) {
        chooseScript();
    } else if (button == reloadButton.get()) {
        CoreServices::sendStatusMessage("Python Processor: " + processor->reloadScript());
        timerCallback();
    } else if (button == homeButton.get()) {
        chooseHome();
    } else if (button == errorButton.get()) {
        showFullError();
    }
}

void PythonProcessorEditor::chooseScript() {
    chooser = std::make_unique<FileChooser>("Choose a Python processor script", File(), "*.py");
    chooserOpen = true;
    chooser->launchAsync(FileBrowserComponent::openMode | FileBrowserComponent::canSelectFiles,
                         [this](const FileChooser& fileChooser) {
                             chooserOpen = false;
                             const File result = fileChooser.getResult();
                             if (result.existsAsFile()) {
                                 processor->chooseScript(result);
                             }
                         });
}

void PythonProcessorEditor::chooseHome() {
    chooser = std::make_unique<FileChooser>("Choose the Python Home (environment folder)");
    chooserOpen = true;
    chooser->launchAsync(FileBrowserComponent::openMode | FileBrowserComponent::canSelectDirectories,
                         [this](const FileChooser& fileChooser) {
                             chooserOpen = false;
                             const File result = fileChooser.getResult();
                             if (result.isDirectory()) {
                                 processor->chooseHome(result);
                             }
                         });
}

void PythonProcessorEditor::showFullError() {
    const String error = processor->getFullError();
    auto text = std::make_unique<TextEditor>();
    text->setMultiLine(true);
    text->setReadOnly(true);
    text->setFont(FontOptions(Font::getDefaultMonospacedFontName(), 12.0f, Font::plain));
    text->setText(error.isEmpty() ? "No error." : error);
    text->setSize(620, 280);
    CallOutBox::launchAsynchronously(std::move(text), errorButton->getScreenBounds(), nullptr);
}

void PythonProcessorEditor::timerCallback() {
    // The Home chooser is offered once per failed resolution, and never when headless (no editor then);
    // not on top of a chooser already open (a Script chooser used before does not prevent it).
    if (processor->takeChooserRequest() && !chooserOpen) {
        chooseHome();
    }
    const auto lines = oe_pyproc::adapter::status_lines(processor->getStatus());
    String text;
    for (const auto& line : lines) {
        text << String::fromUTF8(line.c_str()) << "\n";
    }
    if (text != shownStatus) {
        shownStatus = text;
        statusLabel->setText(text.trimEnd(), dontSendNotification);
        statusLabel->setTooltip(text);
    }
}
