#include "PythonProcessorEditor.h"

#include "PythonProcessor.h"

#include "oe_pyproc_editor_text.h"

namespace {
constexpr int kEditorWidth = 360;
constexpr int kLineHeight = 13;
const FontOptions kStatusFont(12.0f);
}  // namespace

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

    for (auto& line : statusLines) {
        line = std::make_unique<Label>("status", "");
        line->setJustificationType(Justification::centredLeft);
        line->setFont(kStatusFont);
        line->setMinimumHorizontalScale(1.0f);  // never squeezed: editor_text shortens at word boundaries
        line->setBorderSize(BorderSize<int>(0, 2, 0, 2));
        addAndMakeVisible(line.get());
    }

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
    errorButton->setBounds(10, 106, 52, 16);
    for (size_t i = 0; i < statusLines.size(); ++i) {
        statusLines[i]->setBounds(8, 52 + static_cast<int>(i) * kLineHeight, kEditorWidth - 16, kLineHeight);
    }
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
    const oe_pyproc::adapter::StatusInfo status = processor->getStatus();
    std::string key;  // the full lines: the text is only re-fitted when they change
    for (const auto& line : oe_pyproc::adapter::status_lines(status)) {
        key += line + "\n";
    }
    if (key == shownStatus) {
        return;
    }
    shownStatus = key;
    const Font font(kStatusFont);
    const auto width = [&font](const std::string& text) {
        return static_cast<double>(GlyphArrangement::getStringWidth(font, String::fromUTF8(text.c_str())));
    };
    const double room = statusLines[0]->getWidth() - 4.0;  // inside the label's border
    const oe_pyproc::adapter::EditorText text = oe_pyproc::adapter::editor_text(status, room, width);
    const std::array<const oe_pyproc::adapter::EditorLine*, 4> lines = {&text.home, &text.script, &text.error,
                                                                        &text.block};
    for (size_t i = 0; i < lines.size(); ++i) {
        statusLines[i]->setText(String::fromUTF8(lines[i]->text.c_str()), dontSendNotification);
        statusLines[i]->setTooltip(String::fromUTF8(lines[i]->tooltip.c_str()));
    }
    errorButton->setEnabled(text.has_error);
}
